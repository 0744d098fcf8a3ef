"""Position embeddings: the fixed 2-D sin-cos of the MAE paper and resampling to a new token grid.

Convention (anchors.md 1.3): the official code builds the grid with 'xy' indexing, so for token k
(row-major) channels [0, D/2) encode the *column* and [D/2, D) the *row*; each half is
[sin x D/4, cos x D/4]. MoCo-v3-style builders swap the halves; we follow MAE so that regenerating
the embedding reproduces an official checkpoint's stored `pos_embed`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sincos_1d(embed_dim: int, pos: torch.Tensor) -> torch.Tensor:
    """(M,) positions -> (M, embed_dim) as [sin(w*pos), cos(w*pos)], w_d = 1 / 10000^(d / (D/2))."""
    if embed_dim % 2:
        raise ValueError(f"sin-cos embedding needs an even dimension, got {embed_dim}")
    omega = torch.arange(embed_dim // 2, dtype=torch.float64) / (embed_dim / 2.0)
    omega = 1.0 / 10000**omega
    out = pos.reshape(-1).to(torch.float64)[:, None] * omega[None, :]
    return torch.cat([torch.sin(out), torch.cos(out)], dim=1)


def sincos_2d(embed_dim: int, grid_hw: tuple[int, int], num_prefix_tokens: int = 1) -> torch.Tensor:
    """Fixed 2-D sin-cos embedding, shape (num_prefix_tokens + H*W, D), prefix slots all zero."""
    if embed_dim % 4:
        raise ValueError(f"2-D sin-cos embedding needs a dimension divisible by 4, got {embed_dim}")
    h, w = grid_hw
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    emb = torch.cat([sincos_1d(embed_dim // 2, cols), sincos_1d(embed_dim // 2, rows)], dim=1)
    emb = torch.cat([torch.zeros(num_prefix_tokens, embed_dim, dtype=emb.dtype), emb], dim=0)
    return emb.float()


def resample_pos_embed(
    pos_embed: torch.Tensor,
    new_grid: tuple[int, int],
    old_grid: tuple[int, int] | None = None,
    num_prefix_tokens: int = 1,
) -> torch.Tensor:
    """Bicubically resample a (1, P + h*w, D) embedding to (1, P + H*W, D), keeping the P prefix slots.

    `old_grid` is required for non-square grids; square grids are inferred. A grid that is already the
    target is returned unchanged, but a different grid with the same token count is still resampled
    (the equal-token rectangular case that timm once got wrong).
    """
    prefix, patches = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    n, dim = patches.shape[1], patches.shape[2]
    if old_grid is None:
        side = int(round(n**0.5))
        if side * side != n:
            raise ValueError(f"cannot infer the grid of {n} position tokens; pass old_grid")
        old_grid = (side, side)
    if old_grid[0] * old_grid[1] != n:
        raise ValueError(f"old_grid {old_grid} does not hold {n} tokens")
    if tuple(old_grid) == tuple(new_grid):
        return pos_embed
    grid = patches.reshape(1, old_grid[0], old_grid[1], dim).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=tuple(new_grid), mode="bicubic", align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_grid[0] * new_grid[1], dim).to(pos_embed.dtype)
    return torch.cat([prefix, grid], dim=1)
