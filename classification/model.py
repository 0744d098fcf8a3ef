"""The classifier of each protocol, built from `create_vit`, and its mmengine wrapper.

- finetune: global average pooling + `fc_norm` (official default) or the cls token after `norm`; the head
  is re-initialised with trunc-normal std 2e-5; every parameter trains.
- linprobe: the cls token after the final `norm` (global pooling would feed the probe through an
  untrained, frozen `fc_norm`, pain C4), then `BatchNorm1d(affine=False, eps=1e-6)` and a linear layer
  (trunc normal std 0.01, MoCo v3). The encoder is frozen *and* kept in eval mode.
- partial-k: the last k blocks, the final norm and the head train; k = 0 is the linear probe and
  k = depth is full fine-tuning ("24 is full fine-tuning", paper 4.3): every parameter trains, the patch
  embedding, cls token and position embedding included. "mlp" trains only the MLP sub-block of the last
  block (paper 4.3).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from timm.layers import trunc_normal_
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
from torch import nn

from mae_backbone import create_vit
from mae_backbone.errors import ConfigError
from mae_backbone.vit import VisionTransformer

PROTOCOLS = ("finetune", "linprobe", "partial")


def parse_partial(k: int | str, depth: int) -> int | str:
    """`k` as given (an int 0..depth, or "mlp"), validated against the backbone's depth."""
    if isinstance(k, str) and k.strip().lower() == "mlp":
        return "mlp"
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise ConfigError(f"partial blocks {k!r}: give a number of blocks 0..{depth} or 'mlp'") from None
    if not 0 <= k <= depth:
        raise ConfigError(f"partial blocks {k}: this backbone has {depth} blocks; choose 0..{depth} or 'mlp'")
    return k


def build_net(
    protocol: str, arch: str, num_classes: int, model_cfg: dict[str, Any], partial: int | str | None = None
) -> tuple[VisionTransformer, list[nn.Module]]:
    """The network and the list of frozen sub-modules (kept in eval mode, no gradients)."""
    kw = dict(num_classes=num_classes, img_size=model_cfg.get("img_size", 224))
    # Architecture overrides (embed_dim, depth, ... for tiny test models) go straight to create_vit.
    kw.update({k: v for k, v in model_cfg.items() if k not in ("img_size", "global_pool", "drop_path_rate")})
    pool = model_cfg.get("global_pool", "avg")
    if protocol == "linprobe" or (protocol == "partial" and partial == 0):
        if model_cfg.get("global_pool", "token") not in ("token",) and protocol == "linprobe":
            raise ConfigError(
                "linprobe uses the cls token after the final norm (model.global_pool='token'); global pooling "
                "would pass features through an untrained, frozen fc_norm (official MAE issue #186)"
            )
        net = create_vit(arch, global_pool="token", drop_path_rate=0.0, **kw)
        width = net.embed_dim  # read from the instance, never restated
        linear = nn.Linear(width, num_classes)
        trunc_normal_(linear.weight, std=0.01)
        nn.init.zeros_(linear.bias)
        net.head = nn.Sequential(nn.BatchNorm1d(width, affine=False, eps=1e-6), linear)
        return net, _freeze(net, trainable=[net.head])
    if pool not in ("avg", "token"):
        raise ConfigError(f"model.global_pool {pool!r}: choose 'avg' (mean + fc_norm) or 'token' (cls token)")
    net = create_vit(arch, global_pool=pool, drop_path_rate=model_cfg.get("drop_path_rate", 0.0), **kw)
    if protocol == "finetune":
        return net, []
    if protocol != "partial":
        raise ConfigError(f"protocol {protocol!r} unknown; choose one of {', '.join(PROTOCOLS)}")
    k = parse_partial(partial, net.depth)
    if k == net.depth:  # all blocks: exactly fine-tuning, nothing below the blocks stays frozen
        return net, []
    top = [net.norm, net.fc_norm, net.head]
    if k == "mlp":
        last = net.blocks[-1]
        return net, _freeze(net, trainable=[last.norm2, last.mlp, *top])
    return net, _freeze(net, trainable=[*net.blocks[net.depth - k :], *top])


def _freeze(net: nn.Module, trainable: list[nn.Module]) -> list[nn.Module]:
    """Freeze every parameter outside `trainable`; return the top-level frozen modules for eval mode."""
    keep = {id(p) for m in trainable for p in m.parameters()}
    for p in net.parameters():
        p.requires_grad_(id(p) in keep)
    frozen = [net.patch_embed]
    frozen += [b for b in net.blocks if not any(id(p) in keep for p in b.parameters())]
    return frozen


class Classifier(BaseModel):
    """mmengine wrapper. Batches are `{"inputs", "label", "index"}`; 'loss' mixes and smooths as configured,
    'predict' returns the logits with labels and sample indices for exact-once evaluation."""

    def __init__(self, net: VisionTransformer, frozen: list[nn.Module] = (), mixup: Any = None, smoothing: float = 0.0):
        super().__init__()
        self.net, self.mixup, self.smoothing = net, mixup, smoothing
        self._frozen = list(frozen)

    def init_weights(self) -> None:
        """No-op on purpose: mmengine's runner calls `init_weights()` before training, and BaseModule would
        forward it to the ViT's own `init_weights`, silently replacing the pre-trained weights."""

    def train(self, mode: bool = True) -> Classifier:
        super().train(mode)
        for m in self._frozen:  # a frozen encoder stays in eval mode (no drop path, no stats updates)
            m.eval()
        return self

    def forward(
        self,
        inputs: torch.Tensor,
        label: torch.Tensor | None = None,
        index: torch.Tensor | None = None,
        mode: str = "loss",
    ):
        if mode == "loss":
            if self.mixup is not None:
                if inputs.shape[0] % 2:
                    raise ConfigError(f"mixup/cutmix need an even batch size, got {inputs.shape[0]}")
                inputs, target = self.mixup(inputs, label)
                loss = SoftTargetCrossEntropy()(self.net(inputs), target)  # smoothing is folded into target
            elif self.smoothing > 0:
                loss = LabelSmoothingCrossEntropy(self.smoothing)(self.net(inputs), label)
            else:
                loss = F.cross_entropy(self.net(inputs), label)
            return {"loss": loss}
        logits = self.net(inputs).float()
        return [{"logits": logits, "label": label, "index": index}]


def trainable_names(net: nn.Module) -> list[str]:
    return [n for n, p in net.named_parameters() if p.requires_grad]


def protocol_name(protocol: str, partial: int | str | None) -> str:
    return f"partial-{partial}" if protocol == "partial" else protocol


def load_classifier(
    path: str, arch: str | None = None, img_size: int | None = None, classes: list[str] | None = None
) -> tuple[VisionTransformer, list[str], dict[str, Any], Any]:
    """A trained classifier for evaluation: ours (sidecar says arch, protocol, classes) or an official
    fine-tuned .pth (`--arch` needed; pooling read from its keys). The head must come from the file."""
    from mae_backbone.checkpoint import RELATIVE_POSITION_NEW, open_checkpoint
    from mae_backbone.errors import CheckpointError

    ckpt = open_checkpoint(path)
    tensors, meta = ckpt.tensors, ckpt.meta
    arch = arch or meta.get("arch_name")
    if not arch:
        raise ConfigError(
            f"{path}: has no maebench sidecar naming its architecture; pass --arch (e.g. vit_base_patch16)"
        )
    if "head.weight" in tensors:
        num_classes = tensors["head.weight"].shape[0]
    elif "head.1.weight" in tensors:
        num_classes = tensors["head.1.weight"].shape[0]
    else:
        raise CheckpointError(
            f"{path}: holds no classifier head (head.*); it is a backbone, not a fine-tuned "
            "classifier: fine-tune it first (maebench finetune)"
        )
    protocol = meta.get("protocol") or ("linprobe" if "head.0.running_mean" in tensors else "finetune")
    pool = meta.get("global_pool") or ("avg" if "fc_norm.weight" in tensors else "token")
    if protocol == "partial" and meta.get("partial_blocks") in (0, "0"):
        protocol = "linprobe"
    protocol = "linprobe" if protocol == "linprobe" else "finetune"  # for inference partial == finetune
    model_cfg = dict(meta.get("architecture", {}), img_size=img_size or meta.get("img_size", 224), global_pool=pool)
    net, _ = build_net(protocol, arch, num_classes, model_cfg)
    report = ckpt.load(net, head="require", new_by_design=RELATIVE_POSITION_NEW)  # the head comes from the file
    classes = classes or meta.get("classes")
    if classes is None:
        if num_classes != 1000:
            raise ConfigError(f"{path}: {num_classes} classes and no class list in its sidecar; pass --classes FILE")
        from .imagenet import imagenet_classes

        classes = imagenet_classes()
    if len(classes) != num_classes:
        raise CheckpointError(f"{path}: head has {num_classes} outputs but {len(classes)} class names are given")
    net.eval()
    return net, list(classes), {**meta, "protocol": protocol, "global_pool": pool, "arch_name": arch}, report
