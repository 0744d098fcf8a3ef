"""Unlabeled images for pre-training: a flat folder or an ImageFolder tree, read recursively.

A dataset root that holds `train/` beside `val/` or `test/` (an ImageNet release) is read from `train/` only,
as official main_pretrain.py reads `<root>/train`: the evaluation images must not leak into pre-training. The
console says so.

Images of any mode (grayscale, CMYK, 16-bit, palette with alpha) become 8-bit RGB; an unreadable or
truncated file raises one clear error naming it instead of a traceback from inside a worker.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms

from ..errors import BadInputError
from ..images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ends_with_eoi,
    list_images,
    load_rgb,
)

HELD_OUT_SPLITS = ("val", "test")  # beside train/: the root is a dataset release, pre-train on train/ only


def pretrain_root(root: str | Path) -> Path:
    """`root/train` when `root` holds train/ and val/ or test/ (said on the console), else `root` itself."""
    root = Path(root)
    held_out = [s for s in HELD_OUT_SPLITS if (root / s).is_dir()]
    if (root / "train").is_dir() and held_out:
        print(
            f"NOTICE: {root} holds train/ and {'/ and '.join(held_out)}/: pre-training reads {root / 'train'} "
            f"only (as official main_pretrain.py); {', '.join(held_out)} images are not used"
        )
        return root / "train"
    return root


def pretrain_transform(img_size: int, scale: tuple[float, float] = (0.2, 1.0)) -> transforms.Compose:
    """The paper's only augmentation: RandomResizedCrop (bicubic) + horizontal flip."""
    return transforms.Compose(
        [
            transforms.RandomResizedCrop(img_size, scale=scale, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )


class UnlabeledImages(Dataset):
    """Every image below `root`; items are `{"inputs": (3, H, W) tensor}` as mmengine's models take them."""

    def __init__(
        self, root: str | Path, img_size: int = 224, scale: tuple[float, float] = (0.2, 1.0), verify: bool = True
    ):
        self.root = pretrain_root(root)
        self.files = list_images(self.root)
        self.transform = pretrain_transform(img_size, tuple(scale))
        if verify:  # cheap header check up front: fail before training, not hours in
            for f in self.files[:20000]:
                self._verify(f)

    @staticmethod
    def _verify(path: Path) -> None:
        if path.stat().st_size == 0:
            raise BadInputError(f"{path}: empty file (0 bytes); re-copy it or delete it")
        try:
            with Image.open(path) as img:
                fmt = img.format
                img.verify()
        except Exception as err:  # PIL raises many types for damaged files
            raise BadInputError(f"{path}: not a valid image ({err}); re-copy it or delete it") from None
        if fmt == "JPEG" and not ends_with_eoi(path):  # verify() reads no JPEG data: a cut-off copy passes it
            load_rgb(path)  # decode it (rare: valid files end with EOI): raises naming the file if truncated

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, idx: int) -> dict[str, torch.Tensor]:
        return {"inputs": self.transform(load_rgb(self.files[idx]))}
