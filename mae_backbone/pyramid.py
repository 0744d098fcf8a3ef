"""The 4-group pyramid adapter of MAE paper A.3 (Li et al. 2021) and BEiT's segmentation neck.

Outputs after blocks d/4, d/2, 3d/4, d (or any 4 indices) become strides 4, 8, 16, 32:
deconv-norm-GELU-deconv, deconv, identity, max-pool. Widths come from the backbone's feature spec.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

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


class PyramidAdapter(nn.Module):
    """Turns four stride-p ViT maps into strides p/4, p/2, p, 2p (4, 8, 16, 32 for p = 16)."""

    def __init__(
        self, backbone: VisionTransformer, out_indices: Sequence[int] | None = None, norm: str = "GN"
    ):
        super().__init__()
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

    @property
    def feature_spec(self) -> list[FeatureSpec]:
        return self._spec

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = self.backbone.forward_feature_maps(x, self.out_indices)
        return [op(m) for op, m in zip((self.fpn1, self.fpn2, self.fpn3, self.fpn4), maps)]
