"""Masked autoencoder (He et al., 2021, section 3): encoder on visible patches only, light decoder.

`state_dict()` keys and shapes are exactly the official `models_mae.py` ones, so an official
`*_full.pth` loads with strict=True and the encoder part loads into `VisionTransformer`.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import Block, PatchEmbed
from .pos_embed import sincos_2d

DECODER_PREFIXES = ("mask_token", "decoder_")


class MaskedAutoencoderViT(nn.Module):
    def __init__(
        self,
        img_size: int = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 1024,
        depth: int = 24,
        num_heads: int = 16,
        decoder_embed_dim: int = 512,
        decoder_depth: int = 8,
        decoder_num_heads: int = 16,
        mlp_ratio: float = 4.0,
        norm_pix_loss: bool = True,
    ):
        super().__init__()
        self.img_size, self.patch_size, self.in_chans = img_size, patch_size, in_chans
        self.embed_dim, self.depth, self.num_heads, self.mlp_ratio = embed_dim, depth, num_heads, mlp_ratio
        self.norm_pix_loss = norm_pix_loss
        self.grid = (img_size // patch_size, img_size // patch_size)
        num_patches = self.grid[0] * self.grid[1]

        # --- encoder (names as in VisionTransformer) ---
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim), requires_grad=False)  # fixed
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)

        # --- decoder: only used during pre-training ---
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, decoder_embed_dim), requires_grad=False)
        self.decoder_blocks = nn.ModuleList(
            [Block(decoder_embed_dim, decoder_num_heads, mlp_ratio) for _ in range(decoder_depth)]
        )
        self.decoder_norm = nn.LayerNorm(decoder_embed_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_size**2 * in_chans)
        self.init_weights()

    def init_weights(self) -> None:
        self.pos_embed.data.copy_(sincos_2d(self.pos_embed.shape[-1], self.grid)[None])
        self.decoder_pos_embed.data.copy_(sincos_2d(self.decoder_pos_embed.shape[-1], self.grid)[None])
        w = self.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))  # as if it were a Linear layer (official init)
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    # ---- patch layout: (N, 3, H, W) <-> (N, L, p*p*3), channel last inside a patch ----
    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        p, (h, w) = self.patch_size, self.grid
        x = imgs.reshape(imgs.shape[0], self.in_chans, h, p, w, p)
        return torch.einsum("nchpwq->nhwpqc", x).reshape(imgs.shape[0], h * w, p * p * self.in_chans)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        p, (h, w) = self.patch_size, self.grid
        x = x.reshape(x.shape[0], h, w, p, p, self.in_chans)
        return torch.einsum("nhwpqc->nchpwq", x).reshape(x.shape[0], self.in_chans, h * p, w * p)

    @staticmethod
    def shuffle(
        n: int, length: int, mask_ratio: float, noise: torch.Tensor | None = None, device: torch.device | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-sample shuffle by argsorting uniform noise; keep the first int(L * (1 - ratio)) tokens.

        Returns `ids_keep` (N, keep), the binary mask (N, L; 1 = removed) in the original order, and
        `ids_restore`, the inverse permutation that un-shuffles the decoder's input.
        """
        len_keep = int(length * (1 - mask_ratio))
        if noise is None:
            noise = torch.rand(n, length, device=device)
        ids_shuffle = torch.argsort(noise, dim=1)  # ascending: small noise is kept
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        mask = torch.ones(n, length, device=noise.device)
        mask[:, :len_keep] = 0
        return ids_shuffle[:, :len_keep], torch.gather(mask, 1, ids_restore), ids_restore

    @staticmethod
    def take(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """x[i, ids[i]] for every sample i: (N, L, D) -> (N, len(ids[i]), D)."""
        return torch.gather(x.expand(ids.shape[0], -1, -1), 1, ids.unsqueeze(-1).expand(-1, -1, x.shape[-1]))

    def random_masking(
        self, x: torch.Tensor, mask_ratio: float, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The visible tokens (N, keep, D) of x, the mask and `ids_restore` (see `shuffle`)."""
        ids_keep, mask, ids_restore = self.shuffle(x.shape[0], x.shape[1], mask_ratio, noise, x.device)
        return self.take(x, ids_keep), mask.to(x.dtype), ids_restore

    def forward_encoder(
        self, imgs: torch.Tensor, mask_ratio: float, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pixels, grid = self.patch_embed.pixels(imgs)
        ids_keep, mask, ids_restore = self.shuffle(pixels.shape[0], pixels.shape[1], mask_ratio, noise, imgs.device)
        # Mask first, then embed: a removed patch is never computed, not even by the patch embedding. The
        # position is added to the kept tokens, so the decoder can restore the order with ids_restore.
        x = self.patch_embed.embed(self.take(pixels, ids_keep)) + self.take(self.pos_embed[:, 1:], ids_keep)
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)
        for blk in self.blocks:  # no mask tokens here: the encoder sees only visible patches
            x = blk(x, grid)
        return self.norm(x), mask, ids_restore

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        x = self.decoder_embed(latent)
        n, length = ids_restore.shape
        mask_tokens = self.mask_token.to(x.dtype).expand(n, length + 1 - x.shape[1], -1)
        x_ = torch.cat([x[:, 1:], mask_tokens], dim=1)
        x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[2]))  # un-shuffle
        x = torch.cat([x[:, :1], x_], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x, self.grid)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]  # drop the cls prediction

    def target(self, imgs: torch.Tensor) -> torch.Tensor:
        """Patchified pixels; with norm_pix_loss each patch is normalised by its own mean and variance."""
        target = self.patchify(imgs)
        if self.norm_pix_loss:
            mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1.0e-6) ** 0.5
        return target

    def forward_loss(self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean squared error per patch, averaged over the removed patches only."""
        loss = ((pred.float() - self.target(imgs).float()) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum()

    def forward(
        self, imgs: torch.Tensor, mask_ratio: float = 0.75, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        latent, mask, ids_restore = self.forward_encoder(imgs, mask_ratio, noise)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(imgs, pred, mask), pred, mask

    def encoder_state_dict(self) -> dict[str, torch.Tensor]:
        """The encoder's tensors under the VisionTransformer key names (decoder and mask token dropped)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith(DECODER_PREFIXES)}
