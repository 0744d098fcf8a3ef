"""Our ViT as an mmseg backbone for UperNet (MAE paper A.4, BEiT's semantic-segmentation recipe).

`MAEViTSegPyramid` composes `create_vit` (relative position bias per block, zero-initialised, window =
the whole patch grid of the training crop; absolute position embedding kept and resampled to that grid)
with `PyramidAdapter` (BEiT's fpn1-4: strides 4, 8, 16, 32). `LayerDecayOptimWrapperConstructor` gives
mmseg layer-wise lr decay through the shared `param_groups_lrd`, not mmseg's constructor, whose
name check misses `backbone.pos_embed` / `backbone.cls_token` and so puts weight decay on them
(anchors.md 3.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from mmengine.config import ConfigDict
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import DefaultScope
from mmseg.models import EncoderDecoder
from mmseg.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS
from torch import nn

from mae_backbone import create_vit
from mae_backbone.optim import format_param_groups, param_groups_lrd
from mae_backbone.pyramid import PretrainedBackbone, PyramidAdapter


@MODELS.register_module()
class MAEViTSegPyramid(PretrainedBackbone, PyramidAdapter):
    """ViT + 4-level pyramid. Parameter names: `backbone.*` (the ViT), `fpn1.*`, `fpn2.*` (the neck).

    Args:
        arch: a name in `mae_backbone.factory.VARIANTS`; `vit` overrides its fields (e.g. tiny test models).
        img_size: the training crop; the relative-position window and `pos_embed` grid follow it, which is
            why testing slides windows of exactly this size over the image.
        out_indices: blocks whose outputs feed the pyramid ([3, 5, 7, 11] for ViT-B, [7, 11, 15, 23] for L).
        pretrained: our backbone safetensors or an official MAE / timm checkpoint, loaded in `init_weights`.
        norm: "BN" (BEiT's fpn1 SyncBN: mmengine converts it under DDP with `sync_bn`) or "GN".
    """

    def __init__(
        self,
        arch: str,
        img_size: int | tuple[int, int],
        out_indices: Sequence[int],
        drop_path_rate: float = 0.1,
        rel_pos_bias: bool = True,
        pretrained: str | None = None,
        norm: str = "BN",
        vit: dict[str, Any] | None = None,
    ):
        model = create_vit(
            arch,
            img_size=img_size,
            global_pool="",
            rel_pos_bias=rel_pos_bias,
            drop_path_rate=drop_path_rate,
            **(vit or {}),
        )
        # Dense transfer reads block outputs without the final norm (BEiT's `final_norm=False`): drop the
        # unused LayerNorm so that DDP sees no parameter without a gradient and the key report says so.
        model.norm = nn.Identity()
        bad = [i for i in out_indices if not -model.depth <= i < model.depth]
        if bad:
            raise ValueError(f"out_indices {list(out_indices)} do not fit a {model.depth}-block ViT")
        super().__init__(model, out_indices, norm=norm)
        self.pretrained, self.load_report = pretrained, None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(super().forward(x))  # mmseg heads index the levels with `in_index`


@MODELS.register_module()
class ViTEncoderDecoder(EncoderDecoder):
    """mmseg's EncoderDecoder whose heads take their widths from the backbone's feature spec.

    In the config, `in_channels=None` means "what the backbone gives at `in_index`" and `channels=None`
    means "the backbone's width" (UperNet's channels = the ViT width in BEiT's recipe), so no config
    restates a width. Whole-image testing pads inputs to a multiple of the patch size.
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        if (self.test_cfg or {}).get("mode") == "whole" and not self.data_preprocessor.test_cfg:
            self.data_preprocessor.test_cfg = dict(size_divisor=self.backbone.vit.patch_size)

    def _init_decode_head(self, decode_head: dict) -> None:
        super()._init_decode_head(self._widths(decode_head))

    def _init_auxiliary_head(self, auxiliary_head: dict | list | None) -> None:
        if isinstance(auxiliary_head, list):
            auxiliary_head = [self._widths(h) for h in auxiliary_head]
        elif auxiliary_head is not None:
            auxiliary_head = self._widths(auxiliary_head)
        super()._init_auxiliary_head(auxiliary_head)

    def _widths(self, head: dict) -> dict:
        spec, head = self.backbone.feature_spec(), dict(head)
        index = head["in_index"]
        if head.get("in_channels") is None:
            head["in_channels"] = (
                [spec[i].channels for i in index] if isinstance(index, (list, tuple)) else spec[index].channels
            )
        if head.get("channels") is None:
            head["channels"] = self.backbone.vit.embed_dim
        return head


def build_segmentor(model_cfg: dict[str, Any]) -> ViTEncoderDecoder:
    """Build a segmentor config outside a runner (mmseg's names resolve in its own scope)."""
    with DefaultScope.overwrite_default_scope("mmseg"):
        return MODELS.build(ConfigDict(model_cfg))


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """AdamW over `param_groups_lrd` groups: lr = lr * decay^(L + 1 - layer id), neck and heads at full lr.

    `paramwise_cfg=dict(layer_decay=0.65)`. Weight decay: none for 1-D tensors (norms, biases) and for the
    ViT's `no_weight_decay()` (pos_embed, cls_token, relative position tables), as in MAE fine-tuning.
    """

    def __call__(self, model: nn.Module):
        model = model.module if is_model_wrapper(model) else model
        backbone = model.backbone
        if not isinstance(backbone, MAEViTSegPyramid):
            raise TypeError(
                f"LayerDecayOptimWrapperConstructor needs an MAEViTSegPyramid backbone, got {type(backbone)}"
            )
        opt_cfg = dict(self.optimizer_cfg)
        lr, weight_decay = opt_cfg.pop("lr"), opt_cfg.pop("weight_decay", 0.0)
        groups = param_groups_lrd(
            model,
            lr,
            weight_decay,
            self.paramwise_cfg.get("layer_decay", 1.0),
            backbone=backbone.vit,
            backbone_prefix="backbone.backbone.",
        )
        MMLogger.get_current_instance().info("layer-wise lr decay parameter groups:\n" + format_param_groups(groups))
        optimizer = OPTIMIZERS.build({**opt_cfg, "params": groups, "lr": lr})
        return OPTIM_WRAPPERS.build(dict(self.optim_wrapper_cfg), default_args=dict(optimizer=optimizer))
