"""ImageNet-A / -R / -Sketch / -C style sets for the demo world's ImageNet-style classes.

A and R cover a subset of the classes, as the real ones cover 200 of 1000; their subset index files
follow timm's packaging (ascending indices into the full class index, one per line, plus wnids).
C applies the 15 benchmark corruptions of the `imagecorruptions` package at 5 severities and stores
JPEG quality 85, as ImageNet-C does; the images keep their size (the evaluator must not resize).
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from .formats import WNIDS, rng_for, save_jpg
from .scenes import SHAPES, make_scene, sketch

A_CLASSES = (1, 3, 4)  # square, star, ring
R_CLASSES = (0, 2, 3, 5)  # circle, triangle, star, cross
CORRUPTIONS = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
               "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
               "jpeg_compression")


@contextlib.contextmanager
def skimage_compat():
    """imagecorruptions 1.1.2's glass_blur passes `multichannel=`, which scikit-image >= 0.19 renamed to
    `channel_axis`. Translate that one keyword at its one call site while corrupting; nothing else changes."""
    import imagecorruptions.corruptions as ic

    original = ic.gaussian

    def gaussian(image, *args, multichannel=None, **kwargs):
        if multichannel:
            kwargs["channel_axis"] = -1
        return original(image, *args, **kwargs)

    ic.gaussian = gaussian
    try:
        yield
    finally:
        ic.gaussian = original


def write_subset_index(root: Path, name: str, classes: tuple[int, ...]) -> None:
    (root / f"imagenet_{name}_indices.txt").write_text("".join(f"{c}\n" for c in sorted(classes)))
    (root / f"imagenet_{name}_synsets.txt").write_text("".join(f"{WNIDS[c]}\n" for c in sorted(classes)))


def rendition(scene, rng: np.random.Generator) -> np.ndarray:
    """R-style: a cartoon/sketch rendition (flat fills or line art, sometimes inverted)."""
    art = sketch(scene)
    if rng.random() < 0.5:
        for inst in scene.instances:
            art[inst.mask] = rng.integers(0, 256, 3)
    return 255 - art if rng.random() < 0.3 else art


def write_robustness(root: Path, per_class: int, c_per_class: int, seed: int, size: int,
                     c_classes: int | None = None) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for split_id, (name, classes) in enumerate((("a", A_CLASSES), ("r", R_CLASSES), ("sketch", tuple(range(len(SHAPES)))))):
        if name != "sketch":
            write_subset_index(root, name, classes)
        for c in classes:
            for i in range(per_class):
                rng = rng_for(seed, "robust", split_id, c * 10000 + i)
                if name == "a":  # adversarially hard: heavy clutter and occlusion, small main object
                    img = make_scene(rng, size, difficulty=1.0, main_shape=c).image
                elif name == "r":
                    img = rendition(make_scene(rng, size, 0.3, c), rng)
                else:
                    img = sketch(make_scene(rng, size, 0.3, c))
                save_jpg(img, root / name / WNIDS[c] / f"{name}_{c}_{i:04d}.jpg")
    write_imagenet_c(root / "c", c_per_class, seed, size, c_classes or len(SHAPES))


def write_imagenet_c(root: Path, per_class: int, seed: int, size: int, num_classes: int) -> None:
    """The first `num_classes` classes only in the tiny world (glass_blur costs ~0.25 s an image)."""
    from imagecorruptions import corrupt
    from PIL import Image

    clean = {(c, i): make_scene(rng_for(seed, "robust", 9, c * 10000 + i), size, 0.5, c).image
             for c in range(num_classes) for i in range(per_class)}
    with skimage_compat():
        for k, corruption in enumerate(CORRUPTIONS):
            for severity in range(1, 6):
                np.random.seed(seed * 1000 + k * 10 + severity)  # imagecorruptions draws from numpy's global RNG
                for (c, i), img in clean.items():
                    out = np.uint8(np.clip(corrupt(img, corruption_name=corruption, severity=severity), 0, 255))
                    path = root / corruption / str(severity) / WNIDS[c] / f"c_{c}_{i:04d}.jpg"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(out[:size, :size]).save(path, quality=85)
