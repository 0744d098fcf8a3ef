"""Our own small Vision Transformer with the official MAE / timm key names.

One class serves fine-tuning (global pool + `fc_norm`, or the cls token after `norm`), linear probing,
and dense transfer (`forward_feature_maps` at chosen block indices, described by `feature_spec`).
It never masks: masking exists only inside the pre-training objective (mae.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from timm.layers import trunc_normal_
from torch import nn
from torch.utils.checkpoint import checkpoint

from .layers import Block, PatchEmbed
from .pos_embed import resample_pos_embed, sincos_2d

# Parameter names of the relative-position tables: BEiT's bias table, ViTDet's decomposed tables.
REL_POS_SUFFIXES = ("relative_position_bias_table", ".rel_pos_h", ".rel_pos_w")


@dataclass(frozen=True)
class FeatureSpec:
    """What a feature map looks like: channels and stride in input pixels."""

    channels: int
    stride: int


class VisionTransformer(nn.Module):
    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        num_classes: int = 0,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.0,
        global_pool: str = "avg",
        use_cls_token: bool = True,
        rel_pos_bias: bool = False,
        window_size: int = 0,
        global_attn_indexes: Sequence[int] = (),
        grad_checkpointing: bool = False,
        decomposed_rel_pos: bool = False,
        pretrain_img_size: int | tuple[int, int] | None = None,
    ):
        """
        Args:
            global_pool: "avg" = mean of patch tokens then `fc_norm` (MAE fine-tuning default; no `norm`),
                "token" = cls token after `norm` (linear probe), "" = features only (dense tasks, `norm` kept).
            rel_pos_bias: a zero-initialised BEiT-style bias table per block (transfer only, paper A.4).
            window_size: window attention for every block not in `global_attn_indexes` (ViTDet / A.3).
            decomposed_rel_pos: ViTDet's zero-initialised `rel_pos_h` / `rel_pos_w` per block instead, sized by
                the window (window blocks) or by the `img_size` grid (global blocks).
            pretrain_img_size: keep `pos_embed` at this image size's grid (ViTDet: the pre-training 224) and
                resample it bicubically to the input's grid on every forward pass; None = `img_size`.
        """
        super().__init__()
        if global_pool not in ("avg", "token", ""):
            raise ValueError(f"global_pool must be 'avg', 'token' or '', got {global_pool!r}")
        if global_pool == "token" and not use_cls_token:
            raise ValueError("global_pool='token' needs the cls token")
        if rel_pos_bias and decomposed_rel_pos:
            raise ValueError("rel_pos_bias (BEiT's table) and decomposed_rel_pos (ViTDet's) exclude each other")
        pair = lambda s: (s, s) if isinstance(s, int) else tuple(s)  # noqa: E731
        self.img_size = pair(img_size)
        self.patch_size, self.embed_dim, self.depth, self.num_heads = patch_size, embed_dim, depth, num_heads
        self.global_pool, self.num_classes = global_pool, num_classes
        self.num_prefix_tokens = 1 if use_cls_token else 0
        self.grad_checkpointing = grad_checkpointing
        input_grid = (self.img_size[0] // patch_size, self.img_size[1] // patch_size)
        # `grid` is the token grid `pos_embed` holds (what checkpoints are resized to); inputs of another grid get
        # the embedding resampled at run time. Only ViTDet keeps it apart from the input grid.
        pos_size = pair(pretrain_img_size) if pretrain_img_size is not None else self.img_size
        self.grid = (pos_size[0] // patch_size, pos_size[1] // patch_size)

        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if use_cls_token else None
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_prefix_tokens + self.grid[0] * self.grid[1], embed_dim))
        dpr = torch.linspace(0, drop_path_rate, depth).tolist()  # stochastic depth grows with depth
        self.blocks = nn.ModuleList()
        for i in range(depth):
            windowed = window_size > 0 and i not in set(global_attn_indexes)
            attn_grid = (window_size, window_size) if windowed else input_grid
            self.blocks.append(
                Block(
                    embed_dim,
                    num_heads,
                    mlp_ratio,
                    qkv_bias,
                    dpr[i],
                    window_size if windowed else 0,
                    attn_grid if rel_pos_bias else None,
                    0 if windowed else self.num_prefix_tokens,
                    attn_grid if decomposed_rel_pos else None,
                )
            )
        # MAE fine-tuning with global pooling replaces the final norm by fc_norm (official models_vit.py).
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6) if global_pool != "avg" else nn.Identity()
        self.fc_norm = nn.LayerNorm(embed_dim, eps=1e-6) if global_pool == "avg" else nn.Identity()
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self.init_weights()

    def init_weights(self) -> None:
        """timm's ViT init; pos_embed starts as 2-D sin-cos (learnable here, fixed during pre-training)."""
        self.pos_embed.data.copy_(sincos_2d(self.embed_dim, self.grid, self.num_prefix_tokens)[None])
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if isinstance(self.head, nn.Linear):
            trunc_normal_(self.head.weight, std=2e-5)  # MAE fine-tuning re-initialises the head this small

    # ---- contract used by adapters and optimizers -------------------------------------------------
    def feature_spec(self, out_indices: Sequence[int]) -> list[FeatureSpec]:
        return [FeatureSpec(self.embed_dim, self.patch_size) for _ in out_indices]

    def layer_id(self, name: str) -> int:
        """Layer-wise lr decay id: 0 = patch_embed/cls/pos, block i = i + 1, anything else = depth + 1."""
        if name in ("cls_token", "pos_embed") or name.startswith("patch_embed"):
            return 0
        if name.startswith("blocks."):
            return int(name.split(".")[1]) + 1
        return self.depth + 1

    @property
    def num_layers(self) -> int:
        """Number of distinct layer ids minus one (ids run 0..num_layers)."""
        return self.depth + 1

    def no_weight_decay(self) -> set[str]:
        names = {"pos_embed", "cls_token"}
        names |= {n for n, _ in self.named_parameters() if n.endswith(REL_POS_SUFFIXES)}
        return names

    # ---- forward paths ---------------------------------------------------------------------------
    def _embed(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        x, grid = self.patch_embed(x)
        pos = self.pos_embed
        if grid != self.grid:  # run-time resampling for inputs of another size (ViTDet's get_abs_pos)
            pos = resample_pos_embed(pos, grid, self.grid, self.num_prefix_tokens)
        x = x + pos[:, self.num_prefix_tokens :]
        if self.cls_token is not None:
            x = torch.cat([(self.cls_token + pos[:, :1]).expand(x.shape[0], -1, -1), x], dim=1)
        return x, grid

    def _run_block(self, i: int, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        blk = self.blocks[i]
        if self.grad_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(blk, x, grid, use_reentrant=False)
        return blk(x, grid)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, P + N, D) tokens after the last block (and `norm` unless global-pooled)."""
        x, grid = self._embed(x)
        for i in range(self.depth):
            x = self._run_block(i, x, grid)
        return self.norm(x)

    def forward_head(self, tokens: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == "avg":
            feat = self.fc_norm(tokens[:, self.num_prefix_tokens :].mean(dim=1))
        elif self.global_pool == "token":
            feat = tokens[:, 0]
        else:
            raise RuntimeError("this backbone was built with global_pool='' (features only)")
        return feat if pre_logits else self.head(feat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_feature_maps(self, x: torch.Tensor, out_indices: Sequence[int]) -> list[torch.Tensor]:
        """Outputs after the blocks in `out_indices` as (B, D, H/p, W/p) maps (no final norm)."""
        wanted = sorted(set(int(i) % self.depth for i in out_indices))
        x, grid = self._embed(x)
        outs: dict[int, torch.Tensor] = {}
        for i in range(wanted[-1] + 1):
            x = self._run_block(i, x, grid)
            if i in wanted:
                maps = x[:, self.num_prefix_tokens :]
                outs[i] = maps.transpose(1, 2).reshape(x.shape[0], self.embed_dim, *grid)
        return [outs[int(i) % self.depth] for i in out_indices]
