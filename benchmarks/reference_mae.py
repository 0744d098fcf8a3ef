"""An independent re-implementation of the official MAE training step, built from timm's `Block`.

It follows the algorithm of the official `models_mae.py` as described in the paper and
anchors.md 1.2 (noise argsort + gather masking, mask tokens appended then un-shuffled, norm-pix MSE
over removed patches), written separately from `mae_backbone` so the two can check each other:
the equivalence test and the speed benchmark both use it. Same state_dict keys as the official model.
"""

from __future__ import annotations

from functools import partial

import torch
from timm.layers import PatchEmbed
from timm.models.vision_transformer import Block
from torch import nn


class ReferenceMAE(nn.Module):
    def __init__(
        self,
        img_size=224,
        patch_size=16,
        embed_dim=768,
        depth=12,
        num_heads=12,
        decoder_embed_dim=512,
        decoder_depth=8,
        decoder_num_heads=16,
        norm_pix_loss=True,
        encoder_mask_tokens=False,
        fused_attn=False,
    ):
        super().__init__()
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.patch_size, self.norm_pix_loss = patch_size, norm_pix_loss
        self.encoder_mask_tokens = encoder_mask_tokens  # the "no skipping" design for the speed ratio
        self.patch_embed = PatchEmbed(img_size, patch_size, 3, embed_dim)
        n = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, embed_dim), requires_grad=False)
        self.blocks = nn.ModuleList(
            [Block(embed_dim, num_heads, 4.0, qkv_bias=True, norm_layer=norm) for _ in range(depth)]
        )
        self.norm = norm(embed_dim)
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, n + 1, decoder_embed_dim), requires_grad=False)
        self.decoder_blocks = nn.ModuleList(
            [
                Block(decoder_embed_dim, decoder_num_heads, 4.0, qkv_bias=True, norm_layer=norm)
                for _ in range(decoder_depth)
            ]
        )
        self.decoder_norm = norm(decoder_embed_dim)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_size**2 * 3)
        for blk in [*self.blocks, *self.decoder_blocks]:
            blk.attn.fused_attn = fused_attn  # the official code (timm 0.3.2) computes softmax(QK^T)V explicitly
        if encoder_mask_tokens:
            self.enc_mask_token = nn.Parameter(torch.zeros(1, 1, embed_dim))

    def patchify(self, imgs):
        p = self.patch_size
        h = w = imgs.shape[2] // p
        x = imgs.reshape(imgs.shape[0], 3, h, p, w, p)
        x = torch.einsum("nchpwq->nhwpqc", x)
        return x.reshape(imgs.shape[0], h * w, p * p * 3)

    def masking(self, x, mask_ratio, noise):
        n, length, d = x.shape
        keep = int(length * (1 - mask_ratio))
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :keep]
        x_masked = torch.gather(x, dim=1, index=ids_keep.unsqueeze(-1).repeat(1, 1, d))
        mask = torch.ones([n, length], device=x.device)
        mask[:, :keep] = 0
        mask = torch.gather(mask, dim=1, index=ids_restore)
        return x_masked, mask, ids_restore

    def encoder(self, x, mask_ratio, noise):
        x = self.patch_embed(x)
        if self.encoder_mask_tokens:  # every token goes through the encoder, removed ones as mask tokens
            _, mask, ids_restore = self.masking(x, mask_ratio, noise)
            x = x * (1 - mask.unsqueeze(-1)) + self.enc_mask_token * mask.unsqueeze(-1)
            x = x + self.pos_embed[:, 1:, :]
        else:
            x = x + self.pos_embed[:, 1:, :]
            x, mask, ids_restore = self.masking(x, mask_ratio, noise)
        cls = self.cls_token + self.pos_embed[:, :1, :]
        x = torch.cat((cls.expand(x.shape[0], -1, -1), x), dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x), mask, ids_restore

    def decoder(self, x, ids_restore):
        x = self.decoder_embed(x)
        if not self.encoder_mask_tokens:
            mask_tokens = self.mask_token.repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
            x_ = torch.cat([x[:, 1:, :], mask_tokens], dim=1)
            x_ = torch.gather(x_, dim=1, index=ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
            x = torch.cat([x[:, :1, :], x_], dim=1)
        x = x + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:, :]

    def forward(self, imgs, mask_ratio=0.75, noise=None):
        if noise is None:
            noise = torch.rand(imgs.shape[0], self.patch_embed.num_patches, device=imgs.device)
        latent, mask, ids_restore = self.encoder(imgs, mask_ratio, noise)
        pred = self.decoder(latent, ids_restore)
        target = self.patchify(imgs)
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1.0e-6) ** 0.5
        loss = ((pred - target) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum(), pred, mask
