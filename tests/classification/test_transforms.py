"""The linear probe's crop follows the reference's TF-style sampling rule (official util/crop.py)."""

from __future__ import annotations

import math

import torch
from PIL import Image
from torchvision import transforms as T

from classification.transforms import TFRandomResizedCrop, linprobe_train_transform, tf_crop_box

RATIO = (3 / 4, 4 / 3)


def reference_box(width: int, height: int, scale, ratio):
    """util/crop.py's RandomResizedCrop.get_params, restated from its description (anchors.md 1.6): one draw of
    area and log-aspect, the box rounded and clamped to the image, the corner uniform; no retry, no fallback."""
    target_area = width * height * torch.empty(1).uniform_(scale[0], scale[1]).item()
    log_ratio = torch.log(torch.tensor(ratio))
    aspect = torch.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1])).item()
    w = min(int(round(math.sqrt(target_area * aspect))), width)
    h = min(int(round(math.sqrt(target_area / aspect))), height)
    i = torch.randint(0, height - h + 1, size=(1,)).item()
    j = torch.randint(0, width - w + 1, size=(1,)).item()
    return i, j, h, w


def test_same_draws_give_the_reference_box():
    for width, height, scale in (
        (224, 224, (0.08, 1.0)),
        (500, 375, (0.08, 1.0)),
        (640, 96, (0.35, 1.0)),
        (37, 301, (0.5, 1.0)),
    ):
        img = Image.new("RGB", (width, height))
        for seed in range(300):
            torch.manual_seed(seed)
            ours = TFRandomResizedCrop.get_params(img, scale, RATIO)
            after_ours = torch.rand(1)
            torch.manual_seed(seed)
            assert ours == reference_box(width, height, scale, RATIO), (width, height, seed)
            assert torch.equal(after_ours, torch.rand(1))  # exactly the reference's four draws, no retries


def test_no_retry_loop_the_box_is_clamped():
    """A wide image and large areas: torchvision retries and falls back to a centre crop; the reference clamps
    the box to the image's height and keeps its single draw."""
    clamped = 0
    for seed in range(200):
        torch.manual_seed(seed)
        top, left, h, w = tf_crop_box(400, 40, (0.9, 1.0), RATIO)
        assert 0 <= top <= 40 - h and 0 <= left <= 400 - w and h <= 40 and w <= 400
        clamped += h == 40
    assert clamped == 200  # sqrt(0.9 * 16000 / (4/3)) = 104 > 40: the height is always clamped
    torch.manual_seed(0)  # torchvision: 10 draws that do not fit, then a centre crop at the largest ratio
    assert T.RandomResizedCrop.get_params(Image.new("RGB", (400, 40)), (0.9, 1.0), list(RATIO)) == (0, 173, 40, 53)


def test_the_linear_probe_uses_it():
    transform = linprobe_train_transform(32, (0.08, 1.0))
    crop = transform.transforms[0]
    assert isinstance(crop, TFRandomResizedCrop) and crop.interpolation == T.InterpolationMode.BICUBIC
    assert transform(Image.new("RGB", (90, 60), (200, 10, 10))).shape == (3, 32, 32)
