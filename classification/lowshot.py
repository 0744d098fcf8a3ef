"""Low-shot subsets of a training split: a fraction or K images of each class, or a published list
(the ImageNet 1% / 10% files), seeded so that the 1% subset of a seed lies inside its 10% subset."""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from pathlib import Path

from mae_backbone.errors import BadInputError, ConfigError

from .split import Split

SUBSET_LIST = "train_subset.txt"  # written to the work dir: one path per line, relative to the dataset root
LOW_SHOT_KEYS = ("fraction", "shots", "subset_file")


def low_shot(split: Split, data: dict) -> Split:
    """The training split, or its low-shot subset when `data` asks for one (else `split` unchanged):

    - `data.fraction=f` (0 < f < 1, e.g. 0.01 / 0.1): each class keeps round(f x its images), at least one;
    - `data.shots=K`: each class keeps K images (a class with fewer is refused);
    - `data.subset_file=PATH`: exactly the images the file names, one per line (a name or a path relative to
      the dataset root; blank lines and `#` comments skipped), as the published ImageNet 1% / 10% lists are.

    Choices are seeded per class by `data.subset_seed` (default 0) and class name only, so the 1% subset of a
    seed lies inside its 10% subset and a training seed never changes which images are labelled.
    """
    asked = [k for k in LOW_SHOT_KEYS if data.get(k) is not None]
    if not asked:
        return split
    if len(asked) > 1:
        raise ConfigError(f"data.{' and data.'.join(asked)} are both set; a low-shot subset takes one of them")
    if data.get("subset_file") is not None:
        return read_subset(split, data["subset_file"])
    seed = int(data.get("subset_seed") or 0)
    if data.get("fraction") is not None:
        fraction = float(data["fraction"])
        if not 0 < fraction < 1:
            raise ConfigError(f"data.fraction={fraction}: give a fraction of the labels in (0, 1), e.g. 0.01 or 0.1")
        return select_subset(split, seed, fraction=fraction)
    shots = data["shots"]
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise ConfigError(f"data.shots={shots!r}: give a positive number of images per class")
    return select_subset(split, seed, shots=shots)


def select_subset(split: Split, seed: int, fraction: float | None = None, shots: int | None = None) -> Split:
    """A class-balanced subset: per class, a seeded shuffle of its files (sorted first), then the first n."""
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(split.labels):
        by_class.setdefault(y, []).append(i)
    keep = []
    for y, idx in sorted(by_class.items()):
        n = shots if shots is not None else max(1, round(fraction * len(idx)))
        if n > len(idx):
            raise BadInputError(
                f"{split.root}: class {split.classes[y]} has {len(idx)} training images, fewer than data.shots={n}; "
                "lower data.shots"
            )
        order = sorted(idx, key=lambda i: split.files[i].as_posix())
        random.Random(f"{seed}:{split.classes[y]}").shuffle(order)
        keep += order[:n]
    how = dict(mode="fraction", fraction=fraction) if fraction is not None else dict(mode="shots", shots=shots)
    return _subset(split, sorted(keep), dict(how, seed=seed))


def read_subset(split: Split, path: str | Path) -> Split:
    """Exactly the training images `path` names; a name that is not one of them is refused, naming both."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"data.subset_file {path}: no such file; give a list of training images, one per line")
    by_name: dict[str, list[int]] = {}
    for i, f in enumerate(split.files):
        by_name.setdefault(f.name, []).append(i)
    keep: dict[int, int] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        want = name.replace("\\", "/").strip("/")
        hits = [i for i in by_name.get(Path(want).name, []) if ("/" + split.files[i].as_posix()).endswith("/" + want)]
        if not hits:
            raise BadInputError(
                f"{path}:{n}: {name} is not an image of the training split under {split.root} (missing, or from "
                "another split); fix the list or point data.root at the dataset it was made for"
            )
        if len(hits) > 1:
            raise BadInputError(
                f"{path}:{n}: {name} matches {len(hits)} training images (e.g. {split.files[hits[0]]}, "
                f"{split.files[hits[1]]}); give the path relative to the dataset root"
            )
        if hits[0] in keep:
            raise BadInputError(f"{path}:{n}: {name} is listed twice (first on line {keep[hits[0]]}); list each once")
        keep[hits[0]] = n
    if not keep:
        raise BadInputError(f"{path}: names no image; give a list of training images, one per line")
    return _subset(split, sorted(keep), dict(mode="file", subset_file=str(path)))


def _subset(split: Split, keep: list[int], how: dict) -> Split:
    files = [split.files[i] for i in keep]
    text = subset_text(split.root, files)
    counts = [0] * len(split.classes)
    for i in keep:
        counts[split.labels[i]] += 1
    info = dict(
        how,
        num_images=len(files),
        of_images=len(split.files),
        per_class_min=min(counts),
        per_class_max=max(counts),
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        list_file=SUBSET_LIST,
    )
    print(
        f"NOTICE: low-shot training subset ({how['mode']}): {len(files)} of {len(split.files)} images, "
        f"{min(counts)}-{max(counts)} per class, list sha256 {info['sha256'][:16]}"
    )
    return replace(split, files=files, labels=[split.labels[i] for i in keep], subset=info)


def subset_text(root: Path, files: list[Path]) -> str:
    """The list file's text: paths relative to the dataset root, in split order (what the digest covers)."""
    return "".join(f"{f.relative_to(root).as_posix() if f.is_relative_to(root) else f.as_posix()}\n" for f in files)


def low_shot_record(split: Split | None, work_dir: str | Path) -> dict | None:
    """Write the subset's list to `work_dir/train_subset.txt` and return the protocol entry `low_shot`
    (mode, fraction / shots / file, seed, counts, `sha256` of that list file); None for the full split."""
    if split is None or split.subset is None:
        return None
    from mae_backbone.fileio import atomic_write_text

    text = subset_text(split.root, split.files)
    atomic_write_text(Path(work_dir) / SUBSET_LIST, text)
    return dict(split.subset)
