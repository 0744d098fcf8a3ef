"""Image transforms and batch mixing of the three protocols (official MAE main_finetune / main_linprobe).

- fine-tune / partial: timm `create_transform` with RandAugment `rand-m9-mstd0.5-inc1`, bicubic, random
  erasing 0.25 (pixel mode, 1 box), no colour jitter; timm `Mixup` 0.8 / CutMix 1.0 with label smoothing.
- linear probe: the TF-style RandomResizedCrop of official util/crop.py (one draw, no retry loop, box clamped
  to the image; bicubic) + flip, nothing else (regularisation hurts a linear probe).
- both crop `crop_scale` = (0.08, 1) of the image area, as the official code; the demo world's single centred
  shape is mostly cut away below about a third, so its configs crop less.
- evaluation: resize the short side to size / crop_pct (crop_pct = 224/256 up to 224 px, else 1.0), centre crop;
  bicubic as MAE's own evaluation (util/datasets.py), or `interpolation="bilinear"` as hendrycks' IN-A/R eval.py.
- ImageNet-C: no resize or crop at all (the released images are already cropped), except an explicit upsampling
  of the square 224 px images to a larger model input (448 px for the paper's ViT-H448 column), bicubic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image
from timm.data import Mixup, create_transform
from torchvision import transforms as T
from torchvision.transforms import functional as TF

from mae_backbone.errors import BadInputError, ConfigError
from mae_backbone.images import IMAGENET_MEAN, IMAGENET_STD

BICUBIC = T.InterpolationMode.BICUBIC
INTERPOLATIONS = {"bicubic": BICUBIC, "bilinear": T.InterpolationMode.BILINEAR}  # named resize options
CROP_SCALE = (0.08, 1.0)  # RandomResizedCrop area range of the official recipes (aug.crop_scale)


def default_crop_pct(img_size: int) -> float:
    """Official util/datasets.py: 224/256 for inputs up to 224 px, 1.0 (resize only) above."""
    return 224 / 256 if img_size <= 224 else 1.0


def finetune_train_transform(img_size: int, aug: dict[str, Any]) -> T.Compose:
    transform = create_transform(
        input_size=img_size,
        is_training=True,
        scale=tuple(aug.get("crop_scale", CROP_SCALE)),
        color_jitter=aug.get("color_jitter"),
        auto_augment=aug.get("auto_augment") or None,
        interpolation="bicubic",
        re_prob=aug.get("reprob", 0.0),
        re_mode=aug.get("remode", "pixel"),
        re_count=aug.get("recount", 1),
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    )
    for t in transform.transforms:
        for op in getattr(t, "ops", ()):
            if op.name == "PosterizeIncreasing":
                op.aug_fn = _posterize_keep_zero_ok
    return transform


def _posterize_keep_zero_ok(img: Image.Image, bits_to_keep: int, **_: Any) -> Image.Image:
    """RandAugment `inc1` maps magnitude 10 (reached by m9 + mstd0.5 noise) to keeping 0 bits, which Pillow
    >= 11 refuses ("bits must be between 1 and 8") in the middle of an epoch; the reference stack (old
    Pillow) produced a black image there. Same result, without the crash."""
    from PIL import ImageOps

    if bits_to_keep >= 8:
        return img
    if bits_to_keep <= 0:
        return Image.new(img.mode, img.size)
    return ImageOps.posterize(img, bits_to_keep)


def tf_crop_box(width: int, height: int, scale: Sequence[float], ratio: Sequence[float]) -> tuple[int, int, int, int]:
    """(top, left, h, w) of one TF/TPU-style random crop (official util/crop.py, after BYOL's TF code).

    torchvision retries up to 10 draws until the box fits and then falls back to a centre crop; the
    reference takes a single draw and clamps the box: area fraction ~ U(scale), log aspect ~ U(log ratio),
    w = round(sqrt(area * aspect)), h = round(sqrt(area / aspect)), each clamped to the image, then the
    top-left corner uniform over the positions that fit. Draws, in order, from torch's global RNG: the
    area, the aspect, the row, the column (float32 aspect arithmetic, as the reference).
    """
    area = width * height * torch.empty(1).uniform_(scale[0], scale[1]).item()
    lo, hi = torch.tensor(ratio, dtype=torch.float32).log().tolist()  # float32 as the reference: same boxes
    aspect = torch.empty(1).uniform_(lo, hi).exp().item()
    w = min(int(round(math.sqrt(area * aspect))), width)
    h = min(int(round(math.sqrt(area / aspect))), height)
    top = int(torch.randint(0, height - h + 1, size=(1,)).item())
    left = int(torch.randint(0, width - w + 1, size=(1,)).item())
    return top, left, h, w


class TFRandomResizedCrop(T.RandomResizedCrop):
    """RandomResizedCrop with the reference linear probe's sampling rule (`tf_crop_box`)."""

    @staticmethod
    def get_params(img: Any, scale: Sequence[float], ratio: Sequence[float]) -> tuple[int, int, int, int]:
        width, height = TF.get_image_size(img)
        return tf_crop_box(width, height, scale, ratio)


def linprobe_train_transform(img_size: int, crop_scale: tuple[float, float] = CROP_SCALE) -> T.Compose:
    return T.Compose(
        [
            TFRandomResizedCrop(img_size, scale=tuple(crop_scale), interpolation=BICUBIC),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )


def interpolation_mode(name: str) -> T.InterpolationMode:
    if name not in INTERPOLATIONS:
        raise ConfigError(f"interpolation {name!r}: choose {' or '.join(INTERPOLATIONS)}")
    return INTERPOLATIONS[name]


def eval_transform(img_size: int, crop_pct: float | None = None, interpolation: str = "bicubic") -> T.Compose:
    crop_pct = default_crop_pct(img_size) if crop_pct is None else crop_pct
    return T.Compose(
        [
            # short side, keeps the aspect ratio
            T.Resize(int(img_size / crop_pct), interpolation=interpolation_mode(interpolation)),
            T.CenterCrop(img_size),
            T.ToTensor(),
            T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )


class ExactSize:
    """ImageNet-C policy: the images are fed as they are. With `upsample` (an `INTERPOLATIONS` name) a square
    image smaller than the model's input is resized up to it (224 -> 448 for a 448 px model); any other
    size is refused, never cropped or shrunk."""

    def __init__(self, img_size: int, upsample: str | None = None):
        self.img_size = img_size
        self.upsample = None if upsample is None else T.Resize((img_size, img_size), interpolation_mode(upsample))
        self.to_tensor = T.Compose([T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])

    def __call__(self, img: Image.Image):
        w, h = img.size
        if (w, h) != (self.img_size, self.img_size):
            if self.upsample is None or w != h or w > self.img_size:
                raise BadInputError(
                    f"image is {w}x{h}, the model expects {self.img_size}x{self.img_size}; IN-C images are "
                    "evaluated without resize or crop (only upsampled, when asked, from square images smaller "
                    "than the model's input). Use the released JPEGs (224 px) or set the evaluation size"
                )
            img = self.upsample(img)
        return self.to_tensor(img)


def build_mixup(aug: dict[str, Any], num_classes: int) -> Mixup | None:
    """timm Mixup/CutMix (batch mode), or None when both are off (then plain label-smoothed CE is used)."""
    if aug.get("mixup", 0) <= 0 and aug.get("cutmix", 0) <= 0:
        return None
    return Mixup(
        mixup_alpha=aug.get("mixup", 0.0),
        cutmix_alpha=aug.get("cutmix", 0.0),
        cutmix_minmax=None,
        prob=aug.get("mixup_prob", 1.0),
        switch_prob=aug.get("mixup_switch_prob", 0.5),
        mode=aug.get("mixup_mode", "batch"),
        label_smoothing=aug.get("smoothing", 0.0),
        num_classes=num_classes,
    )


def train_transform(protocol: str, img_size: int, aug: dict[str, Any]) -> T.Compose:
    """The training transform of a protocol: linprobe (and partial k=0) use the probe's plain crops."""
    if protocol == "linprobe":
        return linprobe_train_transform(img_size, aug.get("crop_scale", CROP_SCALE))
    return finetune_train_transform(img_size, aug)
