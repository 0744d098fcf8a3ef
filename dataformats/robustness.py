"""ImageNet-A/-R subsets and ImageNet-C trees, as the robustness evaluator reads them.

A and R hold 200 of the 1000 classes. A 1000-way classifier is scored on them by keeping only the logits
of those classes: the subset index file (timm's `imagenet_a_indices.txt`: ascending 1k-space indices, one
per line) must name exactly the classes that have folders, or every prediction is mapped to the wrong class.

ImageNet-C is `<corruption>/<severity 1..5>/<wnid>/*.JPEG`; mCE needs all 15 benchmark corruptions at all
5 severities over the same classes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .imagefolder import ClassIndexLike, find_class_index, load_class_index, validate_imagefolder
from .problems import DEFAULT_SAMPLE, Problem, Report, check_image, first_image, read_lines, subdirs
from .problems import sample as pick

# the 15 corruptions of mCE, in ImageNet-C's order; the evaluator (classification) and the demo world read this list
BENCHMARK_CORRUPTIONS = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)
EXTRA_CORRUPTIONS = ("speckle_noise", "gaussian_blur", "spatter", "saturate")  # ImageNet-C's held-out set
SEVERITIES = ("1", "2", "3", "4", "5")


def validate_subset_index(
    indices: str | os.PathLike | Sequence[int],
    class_index: ClassIndexLike,
    root: str | Path | None = None,
    synsets: str | os.PathLike | None = None,
) -> list[Problem]:
    """A subset index (a file of ascending 1k-space indices, or the list itself) against the full class
    index, its optional wnid list (`imagenet_a_synsets.txt`), and the class folders of `root`."""
    report = Report()
    where = str(indices) if isinstance(indices, (str, os.PathLike)) else "subset indices (list)"
    values: list[int] = []
    if isinstance(indices, (str, os.PathLike)):
        lines = read_lines(Path(indices), report, "the subset index file")
        if lines is None:
            return report.done()
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                values.append(int(line))
            except ValueError:
                report.add(where, f"line {n}: {line!r} is not an integer index", "write one class index per line")
                return report.done()
    else:
        values = [int(v) for v in indices]
    index = load_class_index(class_index, report)
    if index is None:
        return report.done()
    if not values:
        report.add(where, "subset index is empty", "list the indices of the subset's classes, one per line")
    if values != sorted(set(values)):
        report.add(
            where,
            "indices must be strictly ascending without repeats (logits are gathered in this order)",
            "sort the indices and remove duplicates",
        )
    out = [v for v in values if not 0 <= v < len(index)]
    if out:
        report.add(
            where,
            f"indices {out[:5]} out of range 0..{len(index) - 1} of {index.source}",
            "use indices into the full class index",
        )
        return report.done()
    wnids = [index.wnids[v] for v in values]
    if synsets is not None:
        lines = read_lines(Path(synsets), report, "the subset synset file")
        if lines is not None and [s.split()[0] for s in lines if s.strip()] != wnids:
            report.add(
                synsets,
                f"wnids differ from the classes that {Path(str(where)).name} selects from the index",
                "regenerate both files from the same subset",
            )
    if root is not None:
        root = Path(root)
        for p in validate_imagefolder(root, index.wnids, sample=8, allow_subset=True):
            report.add(p.path, p.message, p.fix, p.level)
        if root.is_dir():
            folders, wanted = set(subdirs(root)), set(wnids)
            for w in sorted(wanted - folders):
                report.add(
                    root / w,
                    f"class {w} (index {index.index_of()[w]}) is in the subset index but has no folder",
                    "restore the folder or drop its index from the subset file",
                )
            for w in sorted((folders - wanted) & set(index.wnids)):
                report.add(
                    root / w,
                    f"class folder {w} (index {index.index_of()[w]}) is not in the subset index: "
                    "its logit would be masked out",
                    "add its index to the subset file or remove the folder",
                )
    return report.done()


def validate_imagenet_c(
    root: str | Path,
    class_index: ClassIndexLike | None = None,
    deep: bool = False,
    sample: int | None = DEFAULT_SAMPLE,
    corruptions: Sequence[str] = BENCHMARK_CORRUPTIONS,
) -> list[Problem]:
    """An ImageNet-C tree: every corruption in `corruptions` with severities 1..5 over the same class
    folders. deep=True checks every class folder of every (corruption, severity) and decodes every image;
    otherwise `sample` class folders are checked to hold an image and 8 image headers are read."""
    root = Path(root)
    report = Report()
    if not root.is_dir():
        report.add(root, "ImageNet-C root not found", "pass the folder that holds one folder per corruption")
        return report.done()
    present = subdirs(root)
    for name in corruptions:
        if name not in present:
            report.add(
                root / name,
                f"corruption {name} missing (mCE needs all {len(corruptions)})",
                f"download/unpack {name}, or evaluate with corruptions= restricted to what you have",
            )
    for name in present:
        if name not in corruptions and name not in EXTRA_CORRUPTIONS + BENCHMARK_CORRUPTIONS:
            report.add(
                root / name,
                f"unexpected folder {name}: not an ImageNet-C corruption",
                "move it out of the ImageNet-C root",
            )
    reference: tuple[str, set[str]] | None = None
    leaves: list[Path] = []
    for name in [c for c in corruptions if c in present]:
        sevs = subdirs(root / name)
        for s in SEVERITIES:
            if s not in sevs:
                report.add(root / name / s, f"severity {s} of {name} missing", "unpack all 5 severities")
        for s in sevs:
            if s not in SEVERITIES:
                report.add(root / name / s, f"unexpected folder {s}: severities are 1..5", "remove it")
                continue
            classes = set(subdirs(root / name / s))
            if reference is None:
                reference = (f"{name}/{s}", classes)
            elif classes != reference[1]:
                diff = sorted(classes ^ reference[1])
                report.add(
                    root / name / s,
                    f"class folders differ from {reference[0]}: {diff[:5]} ({len(diff)} differ)",
                    "re-extract this severity; all must cover the same classes",
                )
            leaves.extend(root / name / s / c for c in sorted(classes))
    if reference is None:
        return report.done()
    index_source = class_index if class_index is not None else find_class_index(root)
    if index_source is not None:
        index = load_class_index(index_source, report)
        if index is not None:
            known = set(index.wnids)
            unknown = sorted(reference[1] - known)
            if unknown:
                report.add(
                    root / reference[0],
                    f"class folders {unknown[:5]} are not in the class index",
                    f"use wnid folder names from {index.source}",
                )
            if len(reference[1] & known) < len(known):
                report.warn(
                    root,
                    f"covers {len(reference[1] & known)} of the {len(known)} indexed classes",
                    "expected only for a subset; a full ImageNet-C has every class",
                )
    sizes: set[tuple[int, int]] = set()
    chosen = leaves if deep else pick(leaves, sample)
    for k, leaf in enumerate(chosen):
        files = sorted(str(leaf / f) for f in os.listdir(leaf)) if deep else [first_image(leaf)]
        if not files or files[0] is None:
            report.add(leaf, "class folder holds no images", "re-extract this corruption/severity")
            continue
        for f in files if deep else (files if k < 8 else []):
            size = check_image(Path(f), report, decode=deep)
            if size:
                sizes.add(size)
    if len(sizes) > 1:
        report.warn(
            root,
            f"images come in several sizes {sorted(sizes)[:4]}; the evaluator does not resize ImageNet-C",
            "use the released 224x224 images (or resize all of them the same way)",
        )
    return report.done()
