"""Builders for the named architectures: `create_vit(name, **kw)` and `create_mae(name, **kw)`.

`VARIANTS` is the only name -> architecture map. base/large/huge follow the official MAE factories
(decoder 512-d, 8 blocks, 16 heads); mini/tiny/small are for CPU demos and tests and get a lighter
decoder by default. Every value can be overridden by keyword.
"""

from __future__ import annotations

from typing import Any

from .mae import MaskedAutoencoderViT
from .vit import VisionTransformer

_OFFICIAL_DECODER = dict(decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16)

VARIANTS: dict[str, dict[str, Any]] = {
    "vit_mini_patch16": dict(
        patch_size=16, embed_dim=128, depth=6, num_heads=4, decoder_embed_dim=96, decoder_depth=2, decoder_num_heads=4
    ),
    "vit_tiny_patch16": dict(
        patch_size=16, embed_dim=192, depth=12, num_heads=3, decoder_embed_dim=128, decoder_depth=4, decoder_num_heads=4
    ),
    "vit_small_patch16": dict(
        patch_size=16, embed_dim=384, depth=12, num_heads=6, decoder_embed_dim=256, decoder_depth=4, decoder_num_heads=8
    ),
    "vit_base_patch16": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, **_OFFICIAL_DECODER),
    "vit_large_patch16": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16, **_OFFICIAL_DECODER),
    "vit_huge_patch14": dict(patch_size=14, embed_dim=1280, depth=32, num_heads=16, **_OFFICIAL_DECODER),
}
DECODER_KEYS = ("decoder_embed_dim", "decoder_depth", "decoder_num_heads", "norm_pix_loss")


def variant_args(name: str) -> dict[str, Any]:
    if name not in VARIANTS:
        raise ValueError(f"unknown architecture {name!r}; choose one of: {', '.join(VARIANTS)}")
    return dict(VARIANTS[name])


def create_vit(name: str, **kwargs: Any) -> VisionTransformer:
    """Encoder for transfer, e.g. `create_vit("vit_base_patch16", num_classes=1000, drop_path_rate=0.1)`."""
    args = {k: v for k, v in variant_args(name).items() if k not in DECODER_KEYS}
    args.update(kwargs)
    return VisionTransformer(**args)


def create_mae(name: str, **kwargs: Any) -> MaskedAutoencoderViT:
    """Pre-training model, e.g. `create_mae("vit_large_patch16", norm_pix_loss=True)`."""
    args = variant_args(name)
    args.update(kwargs)
    return MaskedAutoencoderViT(**args)


def architecture_of(model: VisionTransformer | MaskedAutoencoderViT) -> dict[str, Any]:
    """The encoder architecture as plain data (stored in checkpoint sidecars, compared on load)."""
    return dict(
        patch_size=model.patch_size,
        embed_dim=model.embed_dim,
        depth=model.depth,
        num_heads=model.num_heads,
        mlp_ratio=float(getattr(model, "mlp_ratio", model.blocks[0].mlp.fc1.out_features / model.embed_dim)),
    )
