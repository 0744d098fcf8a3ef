"""Images as every task reads them: which files are images, how any of them becomes 8-bit RGB, and the
ImageNet statistics every model here normalises with (pre-training, classification, detection, segmentation).

Light on purpose (PIL and numpy, no torch): `dataformats`' validators take their list of extensions from here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import BadInputError

# torchvision.datasets.folder.IMG_EXTENSIONS: the files an ImageFolder picks up (case-insensitive)
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
# ImageNet mean / std of RGB in [0, 1] (torchvision, timm, official MAE)...
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# ... and on 0-255 inputs, as mmdet's / mmseg's data preprocessors normalise (detectron2's ViTDet, MIMDet, BEiT).
IMAGENET_MEAN_255 = [round(255 * m, 3) for m in IMAGENET_MEAN]
IMAGENET_STD_255 = [round(255 * s, 3) for s in IMAGENET_STD]


def list_images(root: str | Path) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(f"{root}: no such folder; point data.root at a folder of images")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMG_EXTENSIONS and p.is_file())
    if not files:
        raise BadInputError(f"{root}: holds no images ({', '.join(IMG_EXTENSIONS)}); check the path")
    return files


def load_rgb(path: str | Path) -> Image.Image:
    """Open any common image as 8-bit RGB, or raise BadInputError naming the file."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit: rescale, RGB conversion would clip
                arr = np.asarray(img, dtype=np.float32)
                arr = (arr / max(float(arr.max()), 1.0) * 255.0).astype(np.uint8)
                img = Image.fromarray(arr)
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise BadInputError(
            f"{path}: unreadable or truncated image ({err}); re-copy it from the source or delete it"
        ) from None


def ends_with_eoi(path: Path) -> bool:
    """A complete JPEG ends with the end-of-image marker FF D9; a truncated download does not."""
    with open(path, "rb") as f:
        f.seek(-2, 2)
        return f.read(2) == b"\xff\xd9"
