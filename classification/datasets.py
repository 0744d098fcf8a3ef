"""Labelled image sets in their release formats: ImageFolder / ImageNet-1K, iNaturalist 2017-2021, Places205/365.

Every reader resolves the *official* train/val split of its format (never an ad-hoc split), returns
the class list in the dataset's own index order, and validates what it reads: class folders against
the class index, labels against the class count, files that the lists name. A problem raises
`BadInputError` naming the file and the fix, before any training starts. The training split can be cut to
a class-balanced, seeded low-shot subset (`data.fraction`, `data.shots`) or to a given list (`data.subset_file`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from torch.utils.data import Dataset

from mae_backbone.errors import BadInputError
from mae_backbone.images import IMG_EXTENSIONS, load_rgb

from .split import Split

FORMATS = ("imagefolder", "inat", "places")
PLACES_VERSIONS = (205, 365)
CLASS_INDEX_FILE = "imagenet_class_index.json"  # ImageNet's {"0": ["n01440764", "tench"], ...}


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
        raise BadInputError(
            f'{path}: not an ImageNet class index ({err}); expected {{"0": [wnid, name], ...}}'
        ) from None
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
            "ImageNet val folder must first be sorted into <wnid>/ folders with its ground-truth file"
        )
    if classes is None:
        classes = read_class_index(root) or folders
    classes = list(classes)
    position = {c: i for i, c in enumerate(classes)}
    unknown = [f for f in folders if f not in position]
    if unknown:
        raise BadInputError(
            f"{base}: class folders not in the class index ({', '.join(unknown[:5])}); the folders must be the "
            f"wnids of the index ({', '.join(classes[:3])}, ...): rename them or pass the matching class list"
        )
    missing = [c for c in classes if c not in set(folders)]
    if missing and not subset_ok:
        raise BadInputError(
            f"{base}: {len(missing)} of {len(classes)} classes have no folder (e.g. {missing[0]}); the copy is "
            "incomplete or another split: re-extract it"
        )
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
    """The year's official train / val file (`{split}{year}.json`; 2021: `{split}.json`; images, annotations,
    categories, image paths relative to `root`). 2018 keeps the taxonomy in `categories.json`.
    Labels are the category ids, which the releases number 0..N-1 (checked, never remapped silently).
    """
    from dataformats.inat import YEARS  # each release's file names, in one place

    root = Path(root)
    if year not in YEARS:
        raise BadInputError(f"iNaturalist year {year} unsupported; choose one of {', '.join(map(str, YEARS))}")
    if split not in ("train", "val"):
        raise BadInputError(f"iNaturalist split {split!r}: the official splits are 'train' and 'val'")
    ann_path = root / YEARS[year]["files"][split == "val"]
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
                f"file's categories 0..{len(ids) - 1}; use a listed id, or the train and val files of one release"
            )
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
    365: (
        "categories_places365.txt",
        {"train": ("places365_train_standard.txt", "data_256"), "val": ("places365_val.txt", "val_256")},
    ),
    205: (
        "categoryIndex_places205.csv",
        {
            "train": ("trainvalsplit_places205/train_places205.csv", "images256"),
            "val": ("trainvalsplit_places205/val_places205.csv", "images256"),
        },
    ),
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
            "incomplete or elsewhere: point data.root (or data.image_dir) at the extracted release"
        )


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
    from .lowshot import low_shot

    return low_shot(out, data) if split == "train" else out  # never the validation split
