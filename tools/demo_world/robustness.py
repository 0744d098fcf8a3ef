"""ImageNet-A / -R / -Sketch style sets for the demo world's ImageNet-style classes (C: corruptions.py).

A and R cover a subset of the classes, as the real ones cover 200 of 1000; their subset index files
follow timm's packaging (`imagenet_a_indices.txt`: ascending indices into the full class index, one per
line; `imagenet_a_synsets.txt`: the same classes' wnids). Sketch covers every class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .formats import WNIDS, rng_for, save_jpg
from .scenes import SHAPES, make_scene, sketch

A_CLASSES = (1, 3, 4)  # square, star, ring
R_CLASSES = (0, 2, 3, 5)  # circle, triangle, star, cross


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


def hard_crop(scene, rng: np.random.Generator) -> np.ndarray:
    """A-style: zoom 1.2-1.6x into a window that keeps the main shape's centre but cuts part of it off,
    resampled to the original size (A images are natural photos that models get wrong, often for
    cropping and clutter; ours are hard scenes cropped like that)."""
    from PIL import Image

    size = scene.image.shape[0]
    ys, xs = np.nonzero(scene.instances[0].mask)
    win = size / rng.uniform(1.2, 1.6)
    x0 = np.clip(xs.mean() - win * rng.uniform(0.25, 0.75), 0, size - win)
    y0 = np.clip(ys.mean() - win * rng.uniform(0.25, 0.75), 0, size - win)
    crop = Image.fromarray(scene.image).crop((int(x0), int(y0), int(x0 + win), int(y0 + win)))
    return np.asarray(crop.resize((size, size), Image.BILINEAR))


def write_robustness(root: Path, per_class: int, seed: int, size: int) -> None:
    """a/, r/ and sketch/ ImageFolder trees plus the A/R subset files, in `root`."""
    root.mkdir(parents=True, exist_ok=True)
    sets = (("a", A_CLASSES), ("r", R_CLASSES), ("sketch", tuple(range(len(SHAPES)))))
    for split_id, (name, classes) in enumerate(sets):
        if name != "sketch":
            write_subset_index(root, name, classes)
        for c in classes:
            for i in range(per_class):
                rng = rng_for(seed, "robust", split_id, c * 10000 + i)
                if name == "a":  # adversarially hard: heavy clutter and occlusion, cropped
                    img = hard_crop(make_scene(rng, size, 1.0, c, object_centric=True), rng)
                elif name == "r":
                    img = rendition(make_scene(rng, size, 0.3, c, object_centric=True), rng)
                else:
                    img = sketch(make_scene(rng, size, 0.3, c, object_centric=True))
                save_jpg(img, root / name / WNIDS[c] / f"{name}_{c}_{i:04d}.jpg")
