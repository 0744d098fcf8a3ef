"""maebench's shared core: ViT, MAE, position embeddings, checkpoints, layer-wise lr decay, pyramid adapter.

Knows nothing of the downstream tasks. Every submodule is imported on first use (PEP 562), so a light
module such as `mae_backbone.errors` does not pull in torch: `maebench --help` stays instant.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "VARIANTS": "factory",
    "architecture_of": "factory",
    "create_mae": "factory",
    "create_vit": "factory",
    "MaskedAutoencoderViT": "mae",
    "FeatureSpec": "vit",
    "VisionTransformer": "vit",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mae_backbone' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
