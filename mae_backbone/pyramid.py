"""The 4-group pyramid adapter of MAE paper A.3 (Li et al. 2021) and BEiT's segmentation neck.

Outputs after blocks d/4, d/2, 3d/4, d (or any 4 indices) become strides 4, 8, 16, 32:
deconv-norm-GELU-deconv, deconv, identity, max-pool. Widths come from the backbone's feature spec.
The deconvolutions start from torch's default init (BEiT's fpn1/fpn2) or, with `init="lecun"`, from MIMDet's
LeCun normal (its `ms_adaptor`, the benchmarking design of detection).
`PretrainedBackbone` is what the dense backbones (detection, segmentation) share: the pre-trained ViT is
loaded in `init_weights` with every key accounted for, and the key report logged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .checkpoint import RELATIVE_POSITION_NEW, LoadReport, load_checkpoint
from .vit import FeatureSpec, VisionTransformer


def quarter_indices(depth: int) -> list[int]:
    """Block indices closing each quarter of the network: d/4-1, d/2-1, 3d/4-1, d-1 (B: 2, 5, 8, 11)."""
    if depth % 4:
        raise ValueError(f"depth {depth} does not split into four equal groups")
    return [depth // 4 * (i + 1) - 1 for i in range(4)]


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "GN":
        return nn.GroupNorm(min(32, channels), channels)
    if kind == "BN":
        return nn.BatchNorm2d(channels)  # converted to SyncBN by the engine under DDP
    raise ValueError(f"norm must be 'GN' or 'BN', got {kind!r}")


# The std of a standard normal truncated to (-2, 2): timm's `variance_scaling_` divides by it.
_TRUNC_NORMAL_STD = 0.87962566103423978


def lecun_normal_(weight: torch.Tensor) -> torch.Tensor:
    """MIMDet's adapter init as it ran (timm 0.4.12 `lecun_normal_`): a normal of std sqrt(1 / fan_in) / 0.8796,
    truncated at +-2 in absolute units, which at these widths cuts nothing (timm 1.x truncates at 2 std instead,
    a distribution of std sqrt(1 / fan_in)). fan_in is torch's: weight.shape[1] x kernel area, for ConvTranspose2d
    the output channels, which is what MIMDet's call computed too."""
    fan_in = weight.shape[1] * weight[0, 0].numel()
    return nn.init.trunc_normal_(weight, std=math.sqrt(1.0 / fan_in) / _TRUNC_NORMAL_STD, a=-2.0, b=2.0)


class PyramidAdapter(nn.Module):
    """Turns four stride-p ViT maps into strides p/4, p/2, p, 2p (4, 8, 16, 32 for p = 16)."""

    def __init__(
        self,
        backbone: VisionTransformer,
        out_indices: Sequence[int] | None = None,
        norm: str = "GN",
        init: str = "torch",
    ):
        """`init`: "torch" (default init, BEiT) or "lecun" (MIMDet: LeCun normal deconvs, zero biases)."""
        super().__init__()
        if init not in ("torch", "lecun"):
            raise ValueError(f"init must be 'torch' or 'lecun', got {init!r}")
        self.backbone = backbone
        self.out_indices = list(out_indices) if out_indices is not None else quarter_indices(backbone.depth)
        if len(self.out_indices) != 4:
            raise ValueError(f"the pyramid needs 4 block indices, got {self.out_indices}")
        specs = backbone.feature_spec(self.out_indices)
        c = specs[0].channels
        self.fpn1 = nn.Sequential(
            nn.ConvTranspose2d(c, c, 2, stride=2), _norm(norm, c), nn.GELU(), nn.ConvTranspose2d(c, c, 2, stride=2)
        )
        self.fpn2 = nn.ConvTranspose2d(c, c, 2, stride=2)
        self.fpn3 = nn.Identity()
        self.fpn4 = nn.MaxPool2d(2, stride=2)
        self._spec = [FeatureSpec(s.channels, int(s.stride * f)) for s, f in zip(specs, (0.25, 0.5, 1, 2))]
        if init == "lecun":
            for m in (*self.fpn1, self.fpn2):
                if isinstance(m, nn.ConvTranspose2d):
                    lecun_normal_(m.weight)
                    nn.init.zeros_(m.bias)

    def feature_spec(self) -> list[FeatureSpec]:
        """Channels and stride of each output level (a method, as `VisionTransformer.feature_spec`)."""
        return self._spec

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = self.backbone.forward_feature_maps(x, self.out_indices)
        return [op(m) for op, m in zip((self.fpn1, self.fpn2, self.fpn3, self.fpn4), maps)]


def load_backbone(vit: VisionTransformer, path: str) -> LoadReport:
    """Load `path` (our safetensors or an official MAE / timm checkpoint) into a dense-transfer ViT and log the
    exact key report. Only the zero-initialised relative positions may be missing (anchors.md 2.1, paper A.4);
    `cls_token`, `norm.*` (dense features are read before the final norm), the decoder and any classifier are
    unused by design; every other key must load."""
    from mmengine.logging import MMLogger

    report = load_checkpoint(vit, path, new_by_design=RELATIVE_POSITION_NEW)
    MMLogger.get_current_instance().info(report.summary())
    return report


class PretrainedBackbone:
    """Mixin of the dense backbones: `init_weights` (called once by mmengine's runner, after construction)
    loads the pre-trained ViT `self.backbone` from `self.pretrained`, if one is given."""

    backbone: VisionTransformer
    pretrained: str | None = None
    load_report: LoadReport | None = None

    @property
    def vit(self) -> VisionTransformer:
        return self.backbone

    def init_weights(self) -> None:
        if self.pretrained:
            self.load_report = load_backbone(self.vit, self.pretrained)


def bn_accumulation_warning(
    model: nn.Module, batch_size: int, world_size: int, global_batch: int, accum: int
) -> str | None:
    """The start-of-run warning when gradient accumulation reaches the recipe's global batch but BatchNorm cannot:
    its statistics come from one forward pass, i.e. the per-process micro-batch (times the processes under SyncBN),
    while the references (BEiT / mmseg, MIMDet) run SyncBN over the whole global batch of a step. None when the
    model has no BatchNorm (ViTDet's LayerNorms) or nothing is accumulated. Shared by the dense tasks, whose necks
    and heads hold the BatchNorms."""
    norms = [m for m in getattr(model, "module", model).modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if accum <= 1 or not norms:
        return None
    synced = any(isinstance(m, nn.SyncBatchNorm) for m in norms)
    bn_batch = batch_size * world_size if synced else batch_size
    how = (
        f"{batch_size} per process x {world_size} processes, SyncBN"
        if synced
        else f"the per-process micro-batch of {batch_size}"
        + (f"; plain BN on each of {world_size} processes" if world_size > 1 else "")
    )
    return (
        f"BatchNorm under gradient accumulation: the {len(norms)} BatchNorm layers normalise over {bn_batch} "
        f"images per forward pass ({how}), not over the recipe's global batch of {global_batch} (the reference's "
        f"SyncBN spans all {global_batch} images of a step); {accum} micro-batches are accumulated per optimizer "
        f"step. BN statistics, and so the results, can differ from the reference's; to match, run "
        f"{global_batch // batch_size} GPU processes of {batch_size} (SyncBN) or a per-process batch of "
        f"{global_batch // world_size}."
    )
