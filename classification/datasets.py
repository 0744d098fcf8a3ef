"""Labelled image sets in their release formats: ImageFolder / ImageNet-1K, iNaturalist 2017-2019, Places205/365.

Every reader resolves the *official* train/val split of its format (never an ad-hoc split), returns
the class list in the dataset's own index order, and validates what it reads: class folders against
the class index, labels against the class count, files that the lists name. A problem raises
`BadInputError` naming the file and the fix, before any training starts. The training split can be cut to
a class-balanced, seeded low-shot subset (`data.fraction`, `data.shots`) or to a given list (`data.subset_file`).
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

from torch.utils.data import Dataset

from mae_backbone.errors import BadInputError, ConfigError
from mae_backbone.pretrain.data import IMG_EXTENSIONS, load_rgb

FORMATS = ("imagefolder", "inat", "places")
INAT_YEARS = (2017, 2018, 2019)
PLACES_VERSIONS = (205, 365)
CLASS_INDEX_FILE = "imagenet_class_index.json"  # ImageNet's {"0": ["n01440764", "tench"], ...}


@dataclass
class Split:
    """One split of a dataset: files, integer labels and the class names in index order."""

    root: Path
    files: list[Path]
    labels: list[int]
    classes: list[str]
    format: str
    split: str
    subset: dict | None = None  # a low-shot subset: how it was chosen (see `low_shot`)

    def __post_init__(self) -> None:
        n = len(self.classes)
        bad = [(f, y) for f, y in zip(self.files, self.labels) if not 0 <= y < n]
        if bad:
            f, y = bad[0]
            raise BadInputError(
                f"{self.root}: {len(bad)} labels outside 0..{n - 1} (first: {f} has label {y}); the label "
                f"list and the class list disagree: fix the list file or use the matching class file")
        if not self.files:
            raise BadInputError(f"{self.root}: the {self.split} split holds no images; check the dataset path")


class LabelledImages(Dataset):
    """Items are `{"inputs": tensor, "label": int, "index": int}`; `index` makes evaluation exact-once."""

    def __init__(self, split: Split, transform: Callable | None = None):
        self.split, self.transform = split, transform
        self.classes, self.labels, self.files = split.classes, split.labels, split.files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, idx: int) -> dict:
        img = load_rgb(self.files[idx])  # BadInputError naming the file if it is corrupt
        try:
            inputs = self.transform(img) if self.transform else img
        except BadInputError as err:  # a transform that refuses an image (ImageNet-C size check): name the file
            raise BadInputError(f"{self.files[idx]}: {err}") from None
        return {"inputs": inputs, "label": self.labels[idx], "index": idx}


# ---- ImageFolder / ImageNet -----------------------------------------------------------------------
def read_class_index(root: Path) -> list[str] | None:
    """The wnid list in index order from `imagenet_class_index.json`, if the dataset ships one."""
    path = root / CLASS_INDEX_FILE
    if not path.is_file():
        return None
    try:
        index = json.loads(path.read_text())
        wnids = [index[str(i)][0] for i in range(len(index))]
    except (json.JSONDecodeError, KeyError, IndexError, TypeError) as err:
        raise BadInputError(f"{path}: not an ImageNet class index ({err}); expected {{\"0\": [wnid, name], ...}}")
    return wnids


def _folder_key(name: str):
    # Numeric class folders (0..999) sort as numbers: as strings "10" < "2" would scramble labels (pain E4).
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def image_folder(root: str | Path, split: str, classes: Sequence[str] | None = None, subset_ok: bool = False) -> Split:
    """`root/<split>/<class>/*.JPEG`; labels follow `classes` (default: the class index json or sorted folders).

    Args:
        subset_ok: the split may hold only some of the classes (ImageNet-A/R hold 200 of 1000); otherwise
            every class must have a folder, as a val set missing classes means a wrong or partial copy.
    """
    root = Path(root)
    base = root / split
    if not base.is_dir():
        raise BadInputError(f"{base}: no such folder; an ImageFolder dataset needs {root}/{split}/<class>/<image>")
    folders = sorted((d.name for d in base.iterdir() if d.is_dir()), key=_folder_key)
    loose = [p.name for p in base.iterdir() if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS]
    if loose:
        raise BadInputError(
            f"{base}: holds {len(loose)} images directly (e.g. {loose[0]}) instead of class folders; a flat "
            "ImageNet val folder must first be sorted into <wnid>/ folders with its ground-truth file")
    if classes is None:
        classes = read_class_index(root) or folders
    classes = list(classes)
    position = {c: i for i, c in enumerate(classes)}
    unknown = [f for f in folders if f not in position]
    if unknown:
        raise BadInputError(
            f"{base}: class folders not in the class index ({', '.join(unknown[:5])}); the folders must be the "
            f"wnids of the index ({', '.join(classes[:3])}, ...): rename them or pass the matching class list")
    missing = [c for c in classes if c not in set(folders)]
    if missing and not subset_ok:
        raise BadInputError(
            f"{base}: {len(missing)} of {len(classes)} classes have no folder (e.g. {missing[0]}); the copy is "
            "incomplete or another split: re-extract it")
    files, labels = [], []
    for folder in folders:
        found = sorted(p for p in (base / folder).rglob("*") if p.suffix.lower() in IMG_EXTENSIONS)
        files += found
        labels += [position[folder]] * len(found)
    return Split(root, files, labels, classes, "imagefolder", split)


# ---- iNaturalist ----------------------------------------------------------------------------------
def _load_json(path: Path) -> dict:
    if not path.is_file():
        raise BadInputError(f"{path}: missing; download the official annotation file of this iNaturalist year")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise BadInputError(f"{path}: not valid JSON ({err}); re-download it") from None


def inaturalist(root: str | Path, year: int, split: str) -> Split:
    """`{split}{year}.json` (images, annotations, categories) with image paths relative to `root`.

    The official splits are the train and val files; 2018 keeps the taxonomy in `categories.json`.
    Labels are the category ids, which the releases number 0..N-1 (checked, never remapped silently).
    """
    root = Path(root)
    if year not in INAT_YEARS:
        raise BadInputError(f"iNaturalist year {year} unsupported; choose one of {INAT_YEARS}")
    if split not in ("train", "val"):
        raise BadInputError(f"iNaturalist split {split!r}: the official splits are 'train' and 'val'")
    ann_path = root / f"{split}{year}.json"
    data = _load_json(ann_path)
    for key in ("images", "annotations"):
        if key not in data:
            raise BadInputError(f"{ann_path}: has no {key!r} list; is this an iNaturalist {year} file?")
    cats = data.get("categories") or _load_json(root / "categories.json")
    ids = sorted(int(c["id"]) for c in cats)
    if ids != list(range(len(ids))):
        raise BadInputError(f"{ann_path}: category ids are not 0..{len(ids) - 1}; this is not an official release file")
    names = {int(c["id"]): c.get("name", str(c["id"])) for c in cats}
    label_of = {}
    for ann in data["annotations"]:
        if ann.get("category_id") not in names:
            raise BadInputError(
                f"{ann_path}: annotation {ann.get('id')} has category_id {ann.get('category_id')!r}, not one of the "
                f"file's categories 0..{len(ids) - 1}; use a listed id, or the train and val files of one release")
        label_of[ann["image_id"]] = ann["category_id"]
    files, labels = [], []
    for img in data["images"]:
        if img["id"] not in label_of:
            raise BadInputError(f"{ann_path}: image {img['id']} ({img['file_name']}) has no annotation")
        files.append(root / img["file_name"])
        labels.append(label_of[img["id"]])
    _check_exist(files, ann_path)
    return Split(root, files, labels, [names[i] for i in ids], "inat", split)


# ---- Places ---------------------------------------------------------------------------------------
PLACES_LAYOUT = {
    # version: (category file, {split: (list file, image folder)})
    365: ("categories_places365.txt", {"train": ("places365_train_standard.txt", "data_256"),
                                       "val": ("places365_val.txt", "val_256")}),
    205: ("categoryIndex_places205.csv", {"train": ("trainvalsplit_places205/train_places205.csv", "images256"),
                                          "val": ("trainvalsplit_places205/val_places205.csv", "images256")}),
}


def places(root: str | Path, version: int, split: str, image_dir: str | None = None) -> Split:
    """Places205 / Places365-Standard file lists (`path label` per line) and their category files."""
    root = Path(root)
    if version not in PLACES_LAYOUT:
        raise BadInputError(f"Places version {version} unsupported; choose one of {PLACES_VERSIONS}")
    cat_file, splits = PLACES_LAYOUT[version]
    if split not in splits:
        raise BadInputError(f"Places split {split!r}: the official splits are {', '.join(splits)}")
    list_file, default_dir = splits[split]
    classes = [name for name, _ in _read_list(root / cat_file)]
    ids = [int(i) for _, i in _read_list(root / cat_file)]
    if ids != list(range(len(ids))):
        raise BadInputError(f"{root / cat_file}: category indices are not 0..{len(ids) - 1} in order")
    images = root / (image_dir or default_dir)
    rows = _read_list(root / list_file)
    files = [images / rel.lstrip("/") for rel, _ in rows]
    _check_exist(files, root / list_file)
    return Split(root, files, [int(y) for _, y in rows], classes, "places", split)


def _read_list(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        raise BadInputError(f"{path}: missing; it comes with the official release (file lists + categories)")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.replace(",", " ").split()
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise BadInputError(f"{path}:{n}: expected 'path label', got {line!r}")
        rows.append((parts[0], parts[1]))
    return rows


def _check_exist(files: list[Path], listed_in: Path) -> None:
    absent = [f for f in files if not f.is_file()]
    if absent:
        raise BadInputError(
            f"{listed_in}: {len(absent)} listed images are missing (first: {absent[0]}); the image folder is "
            "incomplete or elsewhere: point data.root (or data.image_dir) at the extracted release")


# ---- one entry point ------------------------------------------------------------------------------
def validate(data: dict, split: str) -> None:
    """The format's validator from `dataformats` (structure in full, a sample of image files) before reading:
    all problems of a copy are reported at once, each naming its file and the fix."""
    from dataformats import raise_if_problems, validate_imagefolder, validate_inat, validate_places

    fmt, root = data.get("format", "imagefolder"), Path(data["root"])
    if fmt == "imagefolder":
        base = root / data.get(f"{split}_split", split)
        if base.is_dir():
            raise_if_problems(validate_imagefolder(base), what=str(base))
    elif fmt == "inat" and split == "val":  # one call checks both official splits
        raise_if_problems(validate_inat(root, int(data.get("year") or 2019)), what=str(root))
    elif fmt == "places" and split == "val" and int(data.get("version") or 365) == 365:
        raise_if_problems(validate_places(root), what=str(root))


def build_split(data: dict, split: str, classes: Sequence[str] | None = None) -> Split:
    """The official `split` ('train' / 'val') of the dataset described by a config's `data` dict."""
    fmt, root = data.get("format", "imagefolder"), data.get("root")
    if not root:
        raise BadInputError("no dataset: pass --data FOLDER (or data.root=FOLDER)")
    if fmt in FORMATS and Path(root).is_dir():
        validate(data, split)
    if fmt == "imagefolder":
        out = image_folder(root, data.get(f"{split}_split", split), classes)
    elif fmt == "inat":
        out = inaturalist(root, int(data.get("year") or 2019), split)
    elif fmt == "places":
        out = places(root, int(data.get("version") or 365), split, data.get("image_dir"))
    else:
        raise BadInputError(f"data.format {fmt!r} unknown; choose one of {', '.join(FORMATS)}")
    return low_shot(out, data) if split == "train" else out  # never the validation split


# ---- low-shot subsets of the training split --------------------------------------------------------
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
                "lower data.shots")
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
                "another split); fix the list or point data.root at the dataset it was made for")
        if len(hits) > 1:
            raise BadInputError(f"{path}:{n}: {name} matches {len(hits)} training images (e.g. {split.files[hits[0]]}, "
                                f"{split.files[hits[1]]}); give the path relative to the dataset root")
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
    info = dict(how, num_images=len(files), of_images=len(split.files), per_class_min=min(counts),
                per_class_max=max(counts), sha256=hashlib.sha256(text.encode()).hexdigest(), list_file=SUBSET_LIST)
    print(f"NOTICE: low-shot training subset ({how['mode']}): {len(files)} of {len(split.files)} images, "
          f"{min(counts)}-{max(counts)} per class, list sha256 {info['sha256'][:16]}")
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
