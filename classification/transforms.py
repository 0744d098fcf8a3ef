"""Image transforms and batch mixing of the three protocols (official MAE main_finetune / main_linprobe).

- fine-tune / partial: timm `create_transform` with RandAugment `rand-m9-mstd0.5-inc1`, bicubic, random
  erasing 0.25 (pixel mode, 1 box), no colour jitter; timm `Mixup` 0.8 / CutMix 1.0 with label smoothing.
- linear probe: RandomResizedCrop (bicubic) + flip, nothing else (regularisation hurts a linear probe).
- both crop `crop_scale` = (0.08, 1) of the image area, as the official code; the demo world's single centred
  shape is mostly cut away below about a third, so its configs crop less.
- evaluation: resize the short side to size / crop_pct (crop_pct = 224/256 up to 224 px, else 1.0), centre crop.
- ImageNet-C: no resize or crop at all (the released images are already cropped).
"""
from __future__ import annotations

from typing import Any

from PIL import Image
from timm.data import Mixup, create_transform
from torchvision import transforms as T

from mae_backbone.errors import BadInputError
from mae_backbone.pretrain.data import IMAGENET_MEAN, IMAGENET_STD

BICUBIC = T.InterpolationMode.BICUBIC
CROP_SCALE = (0.08, 1.0)  # RandomResizedCrop area range of the official recipes (aug.crop_scale)


def default_crop_pct(img_size: int) -> float:
    """Official util/datasets.py: 224/256 for inputs up to 224 px, 1.0 (resize only) above."""
    return 224 / 256 if img_size <= 224 else 1.0


def finetune_train_transform(img_size: int, aug: dict[str, Any]) -> T.Compose:
    transform = create_transform(
        input_size=img_size, is_training=True, scale=tuple(aug.get("crop_scale", CROP_SCALE)),
        color_jitter=aug.get("color_jitter"),
        auto_augment=aug.get("auto_augment") or None, interpolation="bicubic",
        re_prob=aug.get("reprob", 0.0), re_mode=aug.get("remode", "pixel"), re_count=aug.get("recount", 1),
        mean=IMAGENET_MEAN, std=IMAGENET_STD)
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


def linprobe_train_transform(img_size: int, crop_scale: tuple[float, float] = CROP_SCALE) -> T.Compose:
    return T.Compose([
        T.RandomResizedCrop(img_size, scale=tuple(crop_scale), interpolation=BICUBIC),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def eval_transform(img_size: int, crop_pct: float | None = None) -> T.Compose:
    crop_pct = default_crop_pct(img_size) if crop_pct is None else crop_pct
    return T.Compose([
        T.Resize(int(img_size / crop_pct), interpolation=BICUBIC),  # short side, keeps the aspect ratio
        T.CenterCrop(img_size),
        T.ToTensor(),
        T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


class ExactSize:
    """ImageNet-C policy: the images are fed as they are; one of another size is refused, not resized."""

    def __init__(self, img_size: int):
        self.img_size = img_size
        self.to_tensor = T.Compose([T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])

    def __call__(self, img: Image.Image):
        if img.size != (self.img_size, self.img_size):
            raise BadInputError(
                f"image is {img.size[0]}x{img.size[1]}, the model expects {self.img_size}x"
                f"{self.img_size}; IN-C images are evaluated without resize or crop. Use the released JPEGs "
                "(224 px) or set the evaluation size to the images' size")
        return self.to_tensor(img)


def build_mixup(aug: dict[str, Any], num_classes: int) -> Mixup | None:
    """timm Mixup/CutMix (batch mode), or None when both are off (then plain label-smoothed CE is used)."""
    if aug.get("mixup", 0) <= 0 and aug.get("cutmix", 0) <= 0:
        return None
    return Mixup(mixup_alpha=aug.get("mixup", 0.0), cutmix_alpha=aug.get("cutmix", 0.0), cutmix_minmax=None,
                 prob=aug.get("mixup_prob", 1.0), switch_prob=aug.get("mixup_switch_prob", 0.5),
                 mode=aug.get("mixup_mode", "batch"), label_smoothing=aug.get("smoothing", 0.0),
                 num_classes=num_classes)


def train_transform(protocol: str, img_size: int, aug: dict[str, Any]) -> T.Compose:
    """The training transform of a protocol: linprobe (and partial k=0) use the probe's plain crops."""
    if protocol == "linprobe":
        return linprobe_train_transform(img_size, aug.get("crop_scale", CROP_SCALE))
    return finetune_train_transform(img_size, aug)
