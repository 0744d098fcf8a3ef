"""ADE20K SceneParsing (`ADEChallengeData2016`): images/{training,validation}/*.jpg with one label PNG per
image in annotations/{training,validation}/*.png, label 0 = "other" and classes 1..K.

`reduce_zero_label=True` (mmseg's ADE20K setting) turns 0 into 255 (ignored) and k into k-1, so a raw label
above K or a colour-coded (RGB) label PNG silently trains on wrong classes: those are the errors checked.
File pairing is checked on every file (two directory listings); pixel values on a sample unless deep=True.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .problems import DEFAULT_SAMPLE, Problem, Report, check_image
from .problems import sample as pick

SPLITS = ("training", "validation")
IGNORE = 255  # a raw 255 stays ignored after reduce_zero_label (255 -> 254 -> 255 in mmseg)


def find_ade_root(root: str | Path) -> Path:
    """Accept the folder that holds ADEChallengeData2016/ as well as the folder itself."""
    root = Path(root)
    return root / "ADEChallengeData2016" if (root / "ADEChallengeData2016").is_dir() else root


def _stems(folder: Path, suffix: str) -> tuple[dict[str, str], list[str]]:
    good, other = {}, []
    with os.scandir(folder) as it:
        for e in it:
            if e.name.startswith(".") or not e.is_file():
                continue
            stem, ext = os.path.splitext(e.name)
            if ext.lower() == suffix:
                good[stem] = e.name
            else:
                other.append(e.name)
    return good, sorted(other)


def check_label_png(label: Path, image: Path | None, num_classes: int, report: Report) -> np.ndarray | None:
    """One label map: single channel, same size as its image, values in 0..num_classes (or 255)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(label) as im:
            mode, size = im.mode, im.size
            arr = np.asarray(im) if mode in ("L", "P", "I", "I;16") else None
    except (UnidentifiedImageError, OSError, ValueError) as err:
        report.add(label, f"not a readable PNG: {err}", "re-extract the annotation archive")
        return None
    if arr is None:
        report.add(
            label,
            f"label map has mode {mode}; class indices must be a single-channel (L or P) PNG",
            "convert colour-coded labels to index PNGs (one uint8 class index per pixel)",
        )
        return None
    if image is not None:
        try:
            with Image.open(image) as im:
                if im.size != size:
                    report.add(
                        label,
                        f"label is {size[0]}x{size[1]} but image {image.name} is {im.size[0]}x{im.size[1]}",
                        "resize labels with nearest-neighbour to the image size",
                    )
        except (UnidentifiedImageError, OSError, ValueError) as err:
            report.add(image, f"not a readable image: {err}", "re-extract the image archive")
    values = np.unique(arr)
    bad = values[(values > num_classes) & (values != IGNORE)]
    if bad.size:
        report.add(
            label,
            f"label values {bad.tolist()[:8]} out of range 0..{num_classes} (0 = other, classes 1..{num_classes})",
            f"check num_classes={num_classes}; remap or set stray values to 0",
        )
    return values


def validate_ade20k(
    root: str | Path, num_classes: int = 150, deep: bool = False, sample: int | None = DEFAULT_SAMPLE
) -> list[Problem]:
    """An ADEChallengeData2016 tree with classes 1..num_classes (150 for ADE20K) and 0 = other.

    Every image must have a label PNG of the same stem and vice versa. `sample` label maps per split (and
    their images' headers) are opened unless deep=True, which opens every pair and decodes every image.
    """
    root = find_ade_root(root)
    report = Report()
    if not root.is_dir():
        report.add(root, "ADE20K root not found", "pass the ADEChallengeData2016 folder (or the one holding it)")
        return report.done()
    if not isinstance(num_classes, int) or not 0 < num_classes < IGNORE:
        report.add(
            root,
            f"num_classes must be an integer in 1..254, got {num_classes!r}",
            "pass the number of classes excluding 0 = other (150 for ADE20K)",
        )
        return report.done()
    for split in SPLITS:
        img_dir, ann_dir = root / "images" / split, root / "annotations" / split
        missing = [d for d in (img_dir, ann_dir) if not d.is_dir()]
        for d in missing:
            report.add(
                d,
                "folder missing",
                "unpack ADEChallengeData2016.zip so that images/ and annotations/ each hold training/ and validation/",
            )
        if missing:
            continue
        images, other_imgs = _stems(img_dir, ".jpg")
        labels, other_labels = _stems(ann_dir, ".png")
        if other_imgs:
            report.warn(
                img_dir,
                f"{len(other_imgs)} non-.jpg files ignored by the loader, e.g. {other_imgs[0]}",
                "convert them to .jpg or remove them",
            )
        if other_labels:
            report.warn(
                ann_dir,
                f"{len(other_labels)} non-.png files ignored, e.g. {other_labels[0]}",
                "labels must be .png (JPEG compression corrupts class indices)",
            )
        if not images:
            report.add(img_dir, "no .jpg images", "unpack the images of this split here")
        for stem in sorted(set(images) - set(labels))[:20]:
            report.add(
                ann_dir / f"{stem}.png",
                f"label missing for image {images[stem]}",
                "restore the label PNG or remove the image",
            )
        for stem in sorted(set(labels) - set(images))[:20]:
            report.add(
                img_dir / f"{stem}.jpg",
                f"image missing for label {labels[stem]}",
                "restore the image or remove the label PNG",
            )
        pairs = sorted(set(images) & set(labels))
        seen: set[int] = set()
        for stem in pairs if deep else pick(pairs, sample):
            image = img_dir / images[stem]
            values = check_label_png(ann_dir / labels[stem], image, num_classes, report)
            if values is not None:
                seen.update(values.tolist())
            if deep:
                check_image(image, report, decode=True)
        if seen and seen <= {0, IGNORE}:
            report.add(
                ann_dir,
                "the checked label maps contain only 0 (other), nothing to learn",
                "check that the PNGs hold class indices, not a blank export",
            )
    return report.done()
