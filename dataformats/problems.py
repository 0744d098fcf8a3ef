"""What every validator returns: a list of `Problem`s, each naming a file, what is wrong and how to fix it.

Validators never raise on bad data (a user wants all problems at once, not the first); the caller decides
with `raise_if_problems`, which raises `BadInputError` for errors and lets warnings pass.

Also here: the helpers the validators share to stay fast on trees with millions of files — a
deterministic sample of the files to check by default, and cheap header-only image checks.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mae_backbone.images import IMG_EXTENSIONS  # the files an ImageFolder picks up

ERROR, WARNING = "error", "warning"
DEFAULT_SAMPLE = 64  # referenced files checked for existence unless deep=True
T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    path: str  # the file or folder at fault
    message: str  # what is wrong, with the offending value
    fix: str  # what the user should do
    level: str = ERROR  # ERROR: a loader would fail or silently mislabel; WARNING: tolerated, worth knowing

    def __str__(self) -> str:
        return f"{self.level}: {self.path}: {self.message} (fix: {self.fix})"


class Report(list):
    """A list of Problems with `add`/`warn` shortcuts and a cap, so a broken tree with a million bad
    entries reports the first few hundred instead of building a huge list."""

    def __init__(self, limit: int = 200):
        super().__init__()
        self.limit = limit
        self.dropped = 0

    def add(self, path: Any, message: str, fix: str, level: str = ERROR) -> None:
        if len(self) >= self.limit:
            self.dropped += 1
            return
        self.append(Problem(str(path), message, fix, level))

    def warn(self, path: Any, message: str, fix: str) -> None:
        self.add(path, message, fix, WARNING)

    def done(self) -> list[Problem]:
        out = list(self)
        if self.dropped:
            out.append(
                Problem(
                    "(report)",
                    f"{self.dropped} more problems not listed",
                    "fix the ones above and validate again",
                    out[-1].level if out else ERROR,
                )
            )
        return out


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.level == ERROR]


def format_problems(problems: Sequence[Problem], what: str = "dataset", max_shown: int = 20) -> str:
    lines = [f"{what}: {len(problems)} problem(s)"] + [f"  - {p}" for p in problems[:max_shown]]
    if len(problems) > max_shown:
        lines.append(f"  ... and {len(problems) - max_shown} more")
    return "\n".join(lines)


def raise_if_problems(problems: Sequence[Problem], what: str = "dataset", max_shown: int = 20) -> None:
    """Raise BadInputError listing every error (warnings alone never raise)."""
    bad = errors(problems)
    if bad:
        # imported here: importing mae_backbone pulls in torch (seconds), which validators do not need
        from mae_backbone.errors import BadInputError

        raise BadInputError(format_problems(bad, what, max_shown))


def sample(items: Sequence[T], k: int | None, seed: int = 0) -> list[T]:
    """A deterministic sample of k items that always includes the first and the last (where truncated
    downloads and off-by-one writers leave their marks); all items when k is None or large enough."""
    n = len(items)
    if k is None or n <= k:
        return list(items)
    if k <= 2:
        return [items[0], items[-1]][: max(k, 0)]
    middle = sorted(random.Random(seed).sample(range(1, n - 1), k - 2))
    return [items[0]] + [items[i] for i in middle] + [items[-1]]


def load_json(path: Path, report: Report, what: str) -> Any:
    """Parse a JSON file, reporting (not raising) a missing file or a syntax error with its position."""
    if not path.is_file():
        report.add(path, f"{what} not found", f"put {what} at {path}, or point the validator at the right folder")
        return None
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        report.add(
            path,
            f"not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}",
            "re-download or regenerate the file (it may be truncated)",
        )
    except (OSError, UnicodeDecodeError) as err:
        report.add(path, f"cannot be read: {err}", "check the file's permissions and that it is not truncated")
    return None


def read_lines(path: Path, report: Report, what: str) -> list[str] | None:
    if not path.is_file():
        report.add(path, f"{what} not found", f"put {what} at {path}, or point the validator at the right folder")
        return None
    try:
        return path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        report.add(path, f"cannot be read: {err}", "check the file's permissions and encoding (UTF-8 text)")
        return None


def subdirs(path: Path) -> list[str]:
    """Sorted names of the non-hidden sub-folders (the order torchvision's ImageFolder uses)."""
    with os.scandir(path) as it:
        return sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))


def first_image(path: Path) -> str | None:
    """The first image file found under `path` (recursively, as ImageFolder walks), stopping early so a
    folder of thousands of files costs one directory read."""
    for dirpath, dirnames, filenames in os.walk(path, followlinks=True):
        dirnames.sort()
        for name in sorted(filenames):
            if name.lower().endswith(IMG_EXTENSIONS):
                return os.path.join(dirpath, name)
    return None


def image_files(path: Path) -> list[str]:
    """All image files under `path`, recursively, sorted (what ImageFolder would load)."""
    out = []
    for dirpath, _dirnames, filenames in os.walk(path, followlinks=True):
        out.extend(os.path.join(dirpath, n) for n in filenames if n.lower().endswith(IMG_EXTENSIONS))
    return sorted(out)


def check_image(
    path: Path, report: Report, decode: bool, expect_size: tuple[int, int] | None = None
) -> tuple[int, int] | None:
    """Open an image (header only unless decode=True, which reads every pixel) and return its (width,
    height); report unreadable files and a size other than the annotation's."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            size = im.size
            if decode:
                im.load()
    except FileNotFoundError:
        report.add(path, "image file missing", "restore the file or remove its entry from the annotations")
        return None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        report.add(path, f"not a readable image: {err}", "re-download or re-extract this file (it may be truncated)")
        return None
    if expect_size is not None and tuple(size) != tuple(expect_size):
        report.add(
            path,
            f"image is {size[0]}x{size[1]} but the annotations say {expect_size[0]}x{expect_size[1]}",
            "fix width/height in the annotation file, or replace the image with the annotated one",
        )
    return size


def check_files(
    root: Path,
    rel_paths: Sequence[str],
    report: Report,
    deep: bool,
    sample_size: int | None,
    sizes: Sequence[tuple[int, int] | None] | None = None,
    what: str = "annotation file",
) -> None:
    """Check that the files an annotation file names exist (a sample of them unless deep) and open some:
    deep=True opens and decodes every one; otherwise the headers of up to 8 of the sample are read."""
    index = list(range(len(rel_paths)))
    chosen = index if deep else sample(index, sample_size)
    n_open = len(chosen) if deep else min(8, len(chosen))
    missing = 0
    for k, i in enumerate(chosen):
        path = root / rel_paths[i]
        if k < n_open or deep:
            expect = sizes[i] if sizes is not None else None
            before = len(report)
            check_image(path, report, decode=deep, expect_size=expect)
            missing += any(p.message == "image file missing" for p in report[before:])
        elif not path.is_file():
            missing += 1
            report.add(
                path,
                f"image file missing (named in the {what})",
                f"restore the file under {root}, or remove its entry from the {what}",
            )
    if missing and not deep:
        report.add(
            root,
            f"{missing} of {len(chosen)} sampled images are missing; others may be too",
            "run the validator with deep=True to list every missing file",
        )
