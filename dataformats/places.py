"""Places365-Standard: `categories_places365.txt` ("/a/abbey 0" per line, alphabetical, 0-based), file lists
`places365_train_standard.txt` ("/a/abbey/00000001.jpg 0", relative to the training data folder) and
`places365_val.txt` ("Places365_val_00000001.jpg 165", relative to the validation folder).

Training paths carry their category in the path, so a list whose labels were shifted (off by one, or read
from another category file) is caught by comparing each label with its path.
"""

from __future__ import annotations

from pathlib import Path

from .problems import DEFAULT_SAMPLE, Problem, Report, check_files, read_lines

CATEGORIES = "categories_places365.txt"
TRAIN_LISTS = ("places365_train_standard.txt", "places365_train_challenge.txt")
VAL_LIST = "places365_val.txt"
TRAIN_DIRS = ("data_256", "data_large", "train_256", "train_large")
VAL_DIRS = ("val_256", "val_large")


def _parse_list(path: Path, n_classes: int, report: Report) -> list[tuple[str, int]]:
    lines = read_lines(path, report, "the file list")
    if lines is None:
        return []
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.rsplit(None, 1)
        try:
            label = int(parts[1])
        except (IndexError, ValueError):
            report.add(path, f"line {n}: {line!r} is not 'path label'", "write one 'relative/path.jpg label' per line")
            continue
        if not 0 <= label < n_classes:
            report.add(
                path,
                f"line {n}: label {label} out of range 0..{n_classes - 1}",
                f"use labels from {CATEGORIES} (0-based)",
            )
            continue
        out.append((parts[0], label))
    if not out:
        report.add(path, "file list is empty", "re-download the file lists (filelist_places365-standard.tar)")
    return out


def _find_dir(root: Path, names: tuple[str, ...], given: str | Path | None) -> Path | None:
    if given is not None:
        return Path(given)
    return next((root / n for n in names if (root / n).is_dir()), None)


def validate_places(
    root: str | Path,
    deep: bool = False,
    sample: int | None = DEFAULT_SAMPLE,
    train_dir: str | Path | None = None,
    val_dir: str | Path | None = None,
) -> list[Problem]:
    """A Places365 root with the category file, both file lists and the image folders (found among
    data_256/data_large and val_256/val_large unless given). Every list line is parsed and checked;
    `sample` images per split exist and 8 open unless deep=True, which checks and decodes every one."""
    root = Path(root)
    report = Report()
    if not root.is_dir():
        report.add(root, "Places365 root not found", "pass the folder with categories_places365.txt and the lists")
        return report.done()
    cat_path = root / CATEGORIES
    lines = read_lines(cat_path, report, "the category file")
    if lines is None:
        return report.done()
    names: list[str] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or not parts[0].startswith("/"):
            report.add(cat_path, f"line {n}: {line!r} is not '/x/name index'", "restore the original category file")
            return report.done()
        if int(parts[1]) != len(names):
            report.add(
                cat_path,
                f"line {n}: index {parts[1]} but it is category number {len(names)}: indices must "
                "be 0, 1, 2, ... in file order",
                "restore the original category file",
            )
            return report.done()
        names.append(parts[0])
    if len(set(names)) != len(names):
        report.add(cat_path, "category names repeat", "list every category once")
    train_list = next((root / t for t in TRAIN_LISTS if (root / t).is_file()), root / TRAIN_LISTS[0])
    for list_path, dirs, given, is_train in (
        (train_list, TRAIN_DIRS, train_dir, True),
        (root / VAL_LIST, VAL_DIRS, val_dir, False),
    ):
        entries = _parse_list(list_path, len(names), report)
        if is_train:
            for path, label in entries:
                category = path.rsplit("/", 1)[0]
                if category != names[label]:
                    report.add(
                        list_path,
                        f"{path}: label {label} is {names[label]}, but the path is in {category}",
                        "the labels are shifted or come from another category file; regenerate the list",
                    )
                    break
        data_dir = _find_dir(root, dirs, given)
        if data_dir is None or not data_dir.is_dir():
            report.add(
                data_dir or root / dirs[0],
                f"image folder for {list_path.name} not found (looked for {', '.join(dirs)})",
                f"unpack the images there or pass {'train' if is_train else 'val'}_dir=",
            )
        elif entries:
            check_files(data_dir, [p.lstrip("/") for p, _ in entries], report, deep, sample, what=list_path.name)
    return report.done()
