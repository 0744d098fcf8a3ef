"""Transformer pieces with the official MAE / timm parameter names.

`Block` = norm1 -> attn (qkv, proj) -> drop_path, norm2 -> mlp (fc1, fc2) -> drop_path: the key names
of timm's `Block`, so official checkpoints load without renaming. Optional relative positions, both
zero-initialised because MAE pre-training has none (paper A.4): BEiT's per-head bias table
(`attn.rel_pos.relative_position_bias_table`), or ViTDet's decomposed, query-dependent form
(`attn.rel_pos_h` / `attn.rel_pos_w`, detectron2's key names and shapes); and ViTDet-style window attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import DropPath
from torch import nn


class PatchEmbed(nn.Module):
    """Image -> (B, h*w, D) tokens with a strided convolution (`patch_embed.proj`).

    A convolution whose stride is its kernel is one matmul over the cut-out patches: `pixels` + `embed`
    compute it so (forward+backward at ViT-B/16, 224 px, batch 32, bf16, 2-core AMX Xeon: 15 ms vs 45 as a
    conv), which lets MAE embed only its visible patches. `forward` keeps the conv: trained through the
    matmul form, the demo Mask R-CNN ended at box AP 0.0 in 5 of 5 runs (seeds, lrs) against 0.8-1.8 with the
    conv in 3 of 3, although outputs and gradients agree to 1e-6 -- not understood yet, so not taken there.
    """

    def __init__(self, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 768):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def grid_of(self, x: torch.Tensor) -> tuple[int, int]:
        h, w = x.shape[-2:]
        p = self.patch_size
        if h % p or w % p:
            raise ValueError(f"input {h}x{w} is not a multiple of the patch size {p}; resize or pad it")
        return h // p, w // p

    def pixels(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """(B, C, H, W) -> (B, h*w, C*p*p) patches, each in the conv weight's (C, p, p) order, and the grid."""
        b, c = x.shape[:2]
        p, grid = self.patch_size, self.grid_of(x)
        x = x.reshape(b, c, grid[0], p, grid[1], p).permute(0, 2, 4, 1, 3, 5)
        return x.reshape(b, grid[0] * grid[1], c * p * p), grid

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        return F.linear(pixels, self.proj.weight.flatten(1), self.proj.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        grid = self.grid_of(x)
        return self.proj(x).flatten(2).transpose(1, 2), grid


class RelativePositionBias(nn.Module):
    """BEiT-style learned bias per head for every relative offset inside a (Wh, Ww) window.

    With a prefix (cls) token the table has 3 extra entries (cls->token, token->cls, cls->cls).
    The table starts at zero because MAE pre-training has no relative position (paper A.4), so
    a freshly loaded MAE backbone computes exactly what it computed without the bias.
    """

    def __init__(self, window: tuple[int, int], num_heads: int, num_prefix_tokens: int = 0):
        super().__init__()
        self.window, self.num_prefix_tokens = tuple(window), num_prefix_tokens
        num_rel = (2 * window[0] - 1) * (2 * window[1] - 1)
        extra = 3 if num_prefix_tokens else 0
        self.relative_position_bias_table = nn.Parameter(torch.zeros(num_rel + extra, num_heads))
        # The index is derived, not learned: keep it out of the state_dict so key sets stay exact.
        self.register_buffer("index", self._index(self.window, num_prefix_tokens), persistent=False)

    @staticmethod
    def _index(window: tuple[int, int], num_prefix_tokens: int) -> torch.Tensor:
        wh, ww = window
        coords = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)  # (N, N, 2)
        idx = (rel[..., 0] + wh - 1) * (2 * ww - 1) + (rel[..., 1] + ww - 1)
        if not num_prefix_tokens:
            return idx
        num_rel = (2 * wh - 1) * (2 * ww - 1)
        n = wh * ww + 1
        full = torch.zeros(n, n, dtype=idx.dtype)
        full[1:, 1:] = idx
        full[0, 1:], full[1:, 0], full[0, 0] = num_rel, num_rel + 1, num_rel + 2
        return full

    def forward(self, grid: tuple[int, int]) -> torch.Tensor:
        """Bias (heads, N, N) for a token grid; a grid other than the window is served by resampling."""
        table, index = self.relative_position_bias_table, self.index
        if tuple(grid) != self.window:
            table, index = self._resampled(table, grid), self._index(grid, self.num_prefix_tokens).to(index.device)
        n = index.shape[0]
        return table[index.reshape(-1)].reshape(n, n, -1).permute(2, 0, 1)

    def _resampled(self, table: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        wh, ww = self.window
        num_rel = (2 * wh - 1) * (2 * ww - 1)
        rel = table[:num_rel].T.reshape(1, -1, 2 * wh - 1, 2 * ww - 1)
        rel = F.interpolate(rel, size=(2 * grid[0] - 1, 2 * grid[1] - 1), mode="bicubic", align_corners=False)
        return torch.cat([rel.reshape(table.shape[1], -1).T, table[num_rel:]], dim=0)


def rel_pos_lookup(table: torch.Tensor, size: int) -> torch.Tensor:
    """(2*size - 1, C) table -> (size, size, C) embeddings R[i, j] of the offset i - j between query row i and key
    row j. A table sized for another length is first resampled linearly (ViTDet's `get_rel_pos`; only square
    self-attention is needed here, so queries and keys have the same size)."""
    length = 2 * size - 1
    if table.shape[0] != length:
        table = F.interpolate(table.T[None], size=length, mode="linear", align_corners=False)[0].T
    offsets = torch.arange(size, device=table.device)
    return table[offsets[:, None] - offsets[None, :] + size - 1]


def decomposed_rel_pos_bias(
    q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor, grid: tuple[int, int]
) -> torch.Tensor:
    """ViTDet's (MViTv2's) decomposed relative positions as an additive attention bias (B, heads, N, N):
    bias[(qh, qw), (kh, kw)] = q . Rh[qh - kh] + q . Rw[qw - kw], with the *unscaled* query q (B, heads, N, C)."""
    (h, w), (b, heads, n, c) = grid, q.shape
    rh = rel_pos_lookup(rel_pos_h, h).to(q.dtype)
    rw = rel_pos_lookup(rel_pos_w, w).to(q.dtype)
    q = q.reshape(b, heads, h, w, c)
    along_h = torch.einsum("bnhwc,hkc->bnhwk", q, rh)  # (B, heads, qh, qw, kh)
    along_w = torch.einsum("bnhwc,wkc->bnhwk", q, rw)  # (B, heads, qh, qw, kw)
    return (along_h[..., :, None] + along_w[..., None, :]).reshape(b, heads, n, n)


# On a CPU in bf16, torch's flash-attention kernel is slower than two plain matmuls for short sequences
# (forward+backward, 2-core AMX Xeon, torch 2.x): MAE decoder (32, 16 heads, 197, 32) 120 ms vs 84 ms;
# encoder on visible tokens (32, 12, 50, 64) 34 ms vs 8 ms; (4, 12, 577, 64) 70 vs 46; but at 1024 tokens
# flash wins (61 vs 91) and it never materialises the N x N scores. In fp32 the fused kernel wins throughout.
# The cut-off stays at 256 tokens so the saved scores stay small (MAE decoder: 40 MB a block at batch 32).
CPU_BF16_EXPLICIT_MAX_TOKENS = 256


def explicit_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + bias) v with materialised scores (same result as the fused kernel)."""
    attn = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    if bias is not None:
        attn = attn + bias
    return attn.softmax(dim=-1) @ v


class Attention(nn.Module):
    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool = True,
        rel_pos_window: tuple[int, int] | None = None,
        num_prefix_tokens: int = 0,
        decomposed_rel_pos: tuple[int, int] | None = None,
    ):
        """
        Args:
            rel_pos_window: the token grid of BEiT's bias table (`rel_pos.relative_position_bias_table`).
            decomposed_rel_pos: the token grid (h, w) of ViTDet's tables `rel_pos_h` (2h - 1, head_dim) and
                `rel_pos_w` (2w - 1, head_dim); other grids are served by resampling them linearly.
        """
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed_dim {dim} is not divisible by num_heads {num_heads}")
        if rel_pos_window and decomposed_rel_pos:
            raise ValueError("choose one relative position: BEiT's bias table or ViTDet's decomposed form")
        if decomposed_rel_pos and num_prefix_tokens:
            raise ValueError("decomposed relative positions need a backbone without a cls token (use_cls_token=False)")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos = RelativePositionBias(rel_pos_window, num_heads, num_prefix_tokens) if rel_pos_window else None
        self.rel_pos_h = self.rel_pos_w = None
        if decomposed_rel_pos:
            head_dim = dim // num_heads
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * decomposed_rel_pos[0] - 1, head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * decomposed_rel_pos[1] - 1, head_dim))

    def forward(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        bias = None
        if self.rel_pos is not None:
            bias = self.rel_pos(grid).to(q.dtype).unsqueeze(0)
        elif self.rel_pos_h is not None:
            bias = decomposed_rel_pos_bias(q, self.rel_pos_h, self.rel_pos_w, grid)
        if q.device.type == "cpu" and q.dtype == torch.bfloat16 and n <= CPU_BF16_EXPLICIT_MAX_TOKENS:
            x = explicit_attention(q, k, v, bias)
        else:
            # Fused attention kernel (flash / memory-efficient); the bias rides as an additive mask.
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(x.transpose(1, 2).reshape(b, n, c))

    @property
    def relative_position_bias_table(self) -> nn.Parameter | None:
        return None if self.rel_pos is None else self.rel_pos.relative_position_bias_table


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block; `window_size > 0` attends inside non-overlapping windows (ViTDet)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        window_size: int = 0,
        rel_pos_window: tuple[int, int] | None = None,
        num_prefix_tokens: int = 0,
        decomposed_rel_pos: tuple[int, int] | None = None,
    ):
        super().__init__()
        if window_size and num_prefix_tokens:
            raise ValueError("window attention needs a backbone without a cls token (use_cls_token=False)")
        self.window_size = window_size
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias, rel_pos_window, num_prefix_tokens, decomposed_rel_pos)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        y = self.norm1(x)
        y = self._windowed_attn(y, grid) if self.window_size else self.attn(y, grid)
        x = x + self.drop_path(y)
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def _windowed_attn(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        b, _, c = x.shape
        (h, w), ws = grid, self.window_size
        ph, pw = (ws - h % ws) % ws, (ws - w % ws) % ws  # pad to whole windows, as ViTDet does
        x = F.pad(x.reshape(b, h, w, c), (0, 0, 0, pw, 0, ph))
        hp, wp = h + ph, w + pw
        x = x.reshape(b, hp // ws, ws, wp // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, c)
        x = self.attn(x, (ws, ws))
        x = x.reshape(b, hp // ws, wp // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, c)
        return x[:, :h, :w].reshape(b, h * w, c)
