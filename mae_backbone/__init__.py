"""maebench's shared core: ViT, MAE, position embeddings, checkpoints, layer-wise lr decay, pyramid adapter.

Knows nothing of the downstream tasks. Heavy submodules (pre-training, runtime) are imported on demand.
"""
from .factory import VARIANTS, architecture_of, create_mae, create_vit
from .mae import MaskedAutoencoderViT
from .vit import FeatureSpec, VisionTransformer

__all__ = [
    "VARIANTS", "FeatureSpec", "MaskedAutoencoderViT", "VisionTransformer",
    "architecture_of", "create_mae", "create_vit",
]
