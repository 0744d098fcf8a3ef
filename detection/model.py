"""Our ViT as an mmdet backbone for Mask R-CNN, in the two designs of anchors.md section 2.

- protocol "benchmarking" (MAE paper A.3, Li et al. 2021, the default): `MAEViTPyramid` = `create_vit` with
  window attention, one global block closing each of four groups and a zero-initialised BEiT-style relative
  position bias table per block (`pos_embed` resized to the input grid once, at load, as MIMDet), wrapped in
  the shared `PyramidAdapter` (outputs after the four group-closing blocks -> strides 4/8/16/32, GroupNorm
  in the x4 branch and LeCun-normal deconvs as MIMDet), then mmdet's `FPN`.
- protocol "vitdet" (Li et al. 2022): `MAEViTSimplePyramid` = the same layout of blocks with detectron2's
  decomposed relative positions (`blocks.i.attn.rel_pos_h` / `rel_pos_w`, zero-initialised) and `pos_embed`
  kept at the pre-training grid, resampled bicubically on every forward pass (`get_abs_pos`); the last
  block's map only, turned into C/4, C/2, C, C channels at strides 4/8/16/32 (LayerNorm in the x4 branch),
  then `SimpleFPN` (1x1 and 3x3 convs with LayerNorm per level, no top-down path, max-pooled p6).

`ViTMaskRCNN` is mmdet's `MaskRCNN` whose neck widths are read from the backbone instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.models import MaskRCNN
from mmdet.registry import MODELS
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from torch import nn

from mae_backbone import create_vit
from mae_backbone.factory import variant_args
from mae_backbone.pyramid import PretrainedBackbone, PyramidAdapter, quarter_indices
from mae_backbone.vit import FeatureSpec, VisionTransformer


def detection_vit(
    arch: str,
    img_size: int,
    window_size: int,
    global_attn_indexes: Sequence[int] | None,
    drop_path_rate: float,
    rel_pos_bias: bool,
    vit: dict[str, Any] | None = None,
    decomposed_rel_pos: bool = False,
    pretrain_img_size: int | None = None,
) -> VisionTransformer:
    """A cls-free ViT for square `img_size` inputs (the pipelines pad every image to it), global attention in
    `global_attn_indexes` (None: the group-closing blocks). With `decomposed_rel_pos`, `rel_pos_bias` turns on
    ViTDet's decomposed tables instead of BEiT's."""
    model = create_vit(
        arch,
        img_size=img_size,
        global_pool="",
        use_cls_token=False,
        window_size=window_size,
        global_attn_indexes=group_closing(arch, vit, global_attn_indexes),
        rel_pos_bias=rel_pos_bias and not decomposed_rel_pos,
        decomposed_rel_pos=rel_pos_bias and decomposed_rel_pos,
        pretrain_img_size=pretrain_img_size,
        drop_path_rate=drop_path_rate,
        **(vit or {}),
    )
    # Dense transfer reads block outputs without the final norm: drop it, so that DDP sees no parameter
    # without a gradient and the key report lists `norm.*` as unused.
    model.norm = nn.Identity()
    return model


def group_closing(arch: str, vit: dict[str, Any] | None, indices: Sequence[int] | None) -> list[int]:
    """`indices`, or (None) the blocks closing each quarter of the architecture's depth, read before building it:
    they are constructor arguments."""
    if indices is not None:
        return list(indices)
    return quarter_indices(int({**variant_args(arch), **(vit or {})}["depth"]))


@MODELS.register_module()
class MAEViTPyramid(PretrainedBackbone, PyramidAdapter):
    """Protocol "benchmarking": four equal groups of blocks, each closed by a global-attention block.

    Args:
        out_indices: blocks whose outputs feed the pyramid; None = the four group-closing blocks
            (`quarter_indices`: 2, 5, 8, 11 for ViT-B). They are also the global-attention blocks.
        window_size: window attention in every other block (16 for 1024 input: a 4x4 grid of windows).
        norm: the x4 branch's norm, "GN" (MIMDet) or "BN".
        adapter_init: the pyramid's deconvolutions, "lecun" (MIMDet's `init_adaptor`) or "torch".
    """

    def __init__(
        self,
        arch: str,
        img_size: int,
        window_size: int,
        out_indices: Sequence[int] | None = None,
        drop_path_rate: float = 0.1,
        rel_pos_bias: bool = True,
        pretrained: str | None = None,
        norm: str = "GN",
        vit: dict[str, Any] | None = None,
        adapter_init: str = "lecun",
    ):
        indices = group_closing(arch, vit, out_indices)
        model = detection_vit(arch, img_size, window_size, indices, drop_path_rate, rel_pos_bias, vit)
        super().__init__(model, indices, norm=norm, init=adapter_init)
        self.pretrained, self.load_report = pretrained, None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(super().forward(x))


@MODELS.register_module()
class LN2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW map (ViTDet's norm in the simple pyramid and the heads)."""

    def __init__(self, num_features: int, eps: float = 1e-6, **kwargs: Any):
        super().__init__(num_features, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


@MODELS.register_module()
class MAEViTSimplePyramid(PretrainedBackbone, nn.Module):
    """Protocol "vitdet": the last block's stride-p map at scales 4, 2, 1, 1/2 with C/4, C/2, C, C channels.

    Args:
        global_attn_indexes: None = the group-closing blocks (ViTDet: 2, 5, 8, 11 for B; 5, 11, 17, 23 for L).
        window_size: 14 in ViTDet for 1024 input (the grid is padded to whole windows).
        rel_pos_bias: ViTDet's decomposed relative positions (`use_rel_pos`), sized 2 x 14 - 1 = 27 for window
            blocks and 2 x 64 - 1 = 127 for the global ones at 1024 px.
        pretrain_img_size: `pos_embed` stays at this size's grid (ViTDet: 224 -> 14 x 14) and is resampled
            bicubically to the input grid on every forward pass; a checkpoint of another grid is resized to it.
    """

    def __init__(
        self,
        arch: str,
        img_size: int,
        window_size: int,
        global_attn_indexes: Sequence[int] | None = None,
        drop_path_rate: float = 0.1,
        rel_pos_bias: bool = True,
        pretrained: str | None = None,
        vit: dict[str, Any] | None = None,
        pretrain_img_size: int = 224,
    ):
        super().__init__()
        self.backbone = detection_vit(
            arch,
            img_size,
            window_size,
            global_attn_indexes,
            drop_path_rate,
            rel_pos_bias,
            vit,
            decomposed_rel_pos=True,
            pretrain_img_size=pretrain_img_size,
        )
        (last,) = self.backbone.feature_spec([-1])
        c = last.channels
        self.up4 = nn.Sequential(
            nn.ConvTranspose2d(c, c // 2, 2, stride=2),
            LN2d(c // 2),
            nn.GELU(),
            nn.ConvTranspose2d(c // 2, c // 4, 2, stride=2),
        )
        self.up2 = nn.ConvTranspose2d(c, c // 2, 2, stride=2)
        self.same = nn.Identity()
        self.down2 = nn.MaxPool2d(2, stride=2)
        self._spec = [
            FeatureSpec(ch, int(last.stride * f)) for ch, f in ((c // 4, 0.25), (c // 2, 0.5), (c, 1), (c, 2))
        ]
        self.pretrained, self.load_report = pretrained, None

    def feature_spec(self) -> list[FeatureSpec]:
        return self._spec

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        (top,) = self.backbone.forward_feature_maps(x, [-1])
        return tuple(op(top) for op in (self.up4, self.up2, self.same, self.down2))


@MODELS.register_module()
class SimpleFPN(nn.Module):
    """ViTDet's neck: per level a 1x1 conv to `out_channels` and a 3x3 conv, each normed; p6 = max-pool(p5).

    No top-down or lateral mixing: the ViT's last block already saw the whole image (ViTDet's finding).
    """

    def __init__(
        self, in_channels: Sequence[int], out_channels: int = 256, num_outs: int = 5, norm_cfg: dict | None = None
    ):
        super().__init__()
        norm_cfg = dict(norm_cfg or dict(type="LN2d"))
        self.num_outs = num_outs
        self.lateral = nn.ModuleList(
            ConvModule(c, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None) for c in in_channels
        )
        self.output = nn.ModuleList(
            ConvModule(out_channels, out_channels, 3, padding=1, norm_cfg=norm_cfg, act_cfg=None) for _ in in_channels
        )

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        outs = [out(lat(f)) for f, lat, out in zip(feats, self.lateral, self.output)]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], 1, stride=2))  # detectron2's LastLevelMaxPool
        return tuple(outs)


@MODELS.register_module()
class ViTMaskRCNN(MaskRCNN):
    """mmdet's Mask R-CNN; a neck with `in_channels=None` gets the backbone's feature-spec widths."""

    def __init__(self, backbone: dict, neck: dict, **kwargs: Any):
        super().__init__(backbone=backbone, neck=None, **kwargs)
        neck = dict(neck)
        if neck.get("in_channels") is None:
            neck["in_channels"] = [s.channels for s in self.backbone.feature_spec()]
        self.neck = MODELS.build(neck)
        self._cpu_autocast: torch.dtype | None = None

    # mmcv's CPU kernels (nms, RoIAlign) take fp32 only. Under CPU bf16 autocast (BF16CpuOptimWrapper) the
    # ViT, pyramid and FPN (nearly all the FLOPs) keep running in bf16; the heads run in fp32.
    def extract_feat(self, batch_inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self._cpu_autocast is None:
            return super().extract_feat(batch_inputs)
        with torch.autocast("cpu", dtype=self._cpu_autocast):
            feats = super().extract_feat(batch_inputs)
        return tuple(f.float() for f in feats)

    def _heads_in_fp32(self, fn: Any, *args: Any) -> Any:
        if not torch.is_autocast_enabled("cpu"):
            return fn(*args)
        self._cpu_autocast = torch.get_autocast_dtype("cpu")
        try:
            with torch.autocast("cpu", enabled=False):
                return fn(*args)
        finally:
            self._cpu_autocast = None

    def loss(self, batch_inputs: torch.Tensor, batch_data_samples: list) -> dict:
        return self._heads_in_fp32(super().loss, batch_inputs, batch_data_samples)

    def predict(self, batch_inputs: torch.Tensor, batch_data_samples: list, rescale: bool = True) -> list:
        return self._heads_in_fp32(super().predict, batch_inputs, batch_data_samples, rescale)


def build_detector(model_cfg: dict[str, Any]) -> ViTMaskRCNN:
    """Build a detector config outside a runner (mmdet's names resolve in its own scope)."""
    import mmdet.models  # noqa: F401  (fills mmdet's registry: FPN, RPNHead, StandardRoIHead, ...)

    with DefaultScope.overwrite_default_scope("mmdet"):
        return MODELS.build(ConfigDict(model_cfg))
