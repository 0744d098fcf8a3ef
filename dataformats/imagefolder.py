"""ImageFolder trees (`<split>/<wnid>/<image>`) and the ImageNet class index they must agree with.

torchvision's ImageFolder numbers classes by *sorted folder name*; a model's logits follow the class index
(`imagenet_class_index.json`, `{"0": ["n01440764", "tench"], ...}`, as keras and timm ship it). The two agree
only if the index is in sorted-wnid order and every indexed class has a folder: one missing or extra folder
shifts every later label by one without any error from the loader. Those are the checks here.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from .problems import (
    DEFAULT_SAMPLE,
    IMG_EXTENSIONS,
    Problem,
    Report,
    check_image,
    first_image,
    image_files,
    subdirs,
)
from .problems import (
    sample as pick,
)

INDEX_NAME = "imagenet_class_index.json"
WNID = re.compile(r"^n\d{8}$")
ClassIndexLike = str | os.PathLike | Sequence[str] | dict


class ClassIndex:
    """Class wnids (and names) in logit order, from a keras/timm-style JSON, a text file with one wnid
    (optionally followed by a name) per line, a list of wnids, or a {"0": [wnid, name]} dict."""

    def __init__(self, wnids: list[str], names: list[str], source: str):
        self.wnids, self.names, self.source = wnids, names, source

    def __len__(self) -> int:
        return len(self.wnids)

    def index_of(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.wnids)}


def load_class_index(source: ClassIndexLike, report: Report | None = None) -> ClassIndex | None:
    """Parse a class index; problems go to `report` (or raise BadInputError when no report is given)."""
    own = report is None
    report = Report() if own else report
    index = _parse_index(source, report)
    if index is not None:
        seen: dict[str, int] = {}
        for i, w in enumerate(index.wnids):
            if not isinstance(w, str) or not w:
                report.add(index.source, f"entry {i} has no class id", "give every entry a wnid/folder name")
            elif w in seen:
                report.add(
                    index.source, f"class {w} is listed twice (entries {seen[w]} and {i})", "list every class once"
                )
            else:
                seen[w] = i
    if own:
        from .problems import raise_if_problems

        raise_if_problems(report.done(), "class index")
    return index


def _parse_index(source: ClassIndexLike, report: Report) -> ClassIndex | None:
    if isinstance(source, dict):
        return _from_dict(source, "class index (dict)", report)
    if isinstance(source, (list, tuple)):
        return ClassIndex([str(w) for w in source], [str(w) for w in source], "class index (list)")
    path = Path(source)
    if not path.is_file():
        report.add(path, "class index file not found", f"write {INDEX_NAME} there or pass class_index=")
        return None
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        report.add(path, f"cannot be read: {err}", "check the file's permissions and encoding")
        return None
    if path.suffix == ".json":
        try:
            return _from_dict(json.loads(text), str(path), report)
        except json.JSONDecodeError as err:
            report.add(path, f"not valid JSON: {err.msg} at line {err.lineno}", "re-download or regenerate it")
            return None
    rows = [line.split(None, 1) for line in text.splitlines() if line.strip()]
    return ClassIndex([r[0] for r in rows], [r[1].strip() if len(r) > 1 else r[0] for r in rows], str(path))


def _from_dict(data: object, source: str, report: Report) -> ClassIndex | None:
    fix = 'write it as {"0": ["n01440764", "tench"], "1": [...], ...} with keys 0..N-1'
    if not isinstance(data, dict) or not data:
        report.add(source, "class index must be a non-empty JSON object", fix)
        return None
    try:
        keys = sorted(int(k) for k in data)
    except (TypeError, ValueError):
        report.add(source, "class index keys must be the integers 0..N-1 (as strings)", fix)
        return None
    if keys != list(range(len(keys))):
        gap = next(i for i, k in enumerate(keys) if k != i)
        report.add(source, f"class index keys are not contiguous: index {gap} is missing", fix)
        return None
    wnids, names = [], []
    for k in keys:
        v = data.get(str(k), data.get(k))
        if not (isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, str) for x in v)):
            report.add(source, f"entry {k} must be [wnid, name], got {v!r}", fix)
            return None
        wnids.append(v[0])
        names.append(v[1])
    return ClassIndex(wnids, names, source)


def find_class_index(root: Path) -> Path | None:
    """`imagenet_class_index.json` next to the split folder or in the dataset root above it."""
    for folder in (root, root.parent, root.parent.parent):
        if (folder / INDEX_NAME).is_file():
            return folder / INDEX_NAME
    return None


def validate_imagefolder(
    root: str | Path,
    class_index: ClassIndexLike | None = None,
    deep: bool = False,
    sample: int | None = DEFAULT_SAMPLE,
    allow_subset: bool = False,
) -> list[Problem]:
    """One ImageFolder split (`root/<class>/<images>`), checked against a class index when one is given or
    found (`imagenet_class_index.json` in root or up to two folders above).

    allow_subset=True accepts folders for only some indexed classes (ImageNet-A/-R style; check their
    subset files with `validate_subset_index`). deep=True counts and decodes every image; otherwise each
    class folder is only checked to hold an image, and `sample` headers are read.
    """
    root = Path(root)
    report = Report()
    if not root.is_dir():
        report.add(root, "ImageFolder root not found", "pass the split folder that holds one folder per class")
        return report.done()
    classes = subdirs(root)
    splits = [c for c in classes if c in ("train", "val", "test")]
    if splits and len(splits) == len(classes) and all(subdirs(root / s) for s in splits):
        report.add(
            root,
            f"holds split folders {splits}, not class folders",
            f"pass {root / splits[0]} (one split) instead of the dataset root",
        )
        return report.done()
    if not classes:
        report.add(root, "no class folders", "arrange images as root/<class>/<image> (one folder per class)")
        return report.done()
    with os.scandir(root) as it:
        loose = sorted(e.name for e in it if e.is_file() and e.name.lower().endswith(IMG_EXTENSIONS))
    if loose:
        report.warn(
            root,
            f"{len(loose)} images directly in the root are ignored by ImageFolder, e.g. {loose[0]}",
            "move them into their class folders",
        )
    firsts, counts = {}, {}
    for c in classes:
        if deep:
            found = image_files(root / c)
            counts[c] = len(found)
            first = found[0] if found else None
            for f in found:
                check_image(Path(f), report, decode=True)
        else:
            first = first_image(root / c)
        if first is None:
            report.add(
                root / c,
                f"class folder {c} has no images with extensions {', '.join(IMG_EXTENSIONS)}",
                "add its images or remove the folder (ImageFolder refuses empty classes)",
            )
        else:
            firsts[c] = first
    if not deep:
        for c in pick(sorted(firsts), min(8, sample or 8)):
            check_image(Path(firsts[c]), report, decode=False)
    elif counts and max(counts.values()) > 0:
        lo, hi = min(counts, key=counts.get), max(counts, key=counts.get)
        if counts[lo] * 10 < counts[hi]:
            report.warn(
                root,
                f"class sizes range from {counts[lo]} ({lo}) to {counts[hi]} ({hi})",
                "check for an incomplete download of the small classes",
            )
    index_source = class_index if class_index is not None else find_class_index(root)
    if index_source is None:
        return report.done()
    index = load_class_index(index_source, report)
    if index is None:
        return report.done()
    where = index.source
    if index.wnids != sorted(index.wnids):
        i = next(i for i, (a, b) in enumerate(zip(index.wnids, sorted(index.wnids))) if a != b)
        report.add(
            where,
            f"class index is not in sorted order (entry {i} is {index.wnids[i]}, sorted order has "
            f"{sorted(index.wnids)[i]}): ImageFolder labels would not match the model's outputs",
            "map folders to labels with the index (class_to_idx from the index), not ImageFolder's order",
        )
    known = set(index.wnids)
    for c in classes:
        if c not in known:
            report.add(
                root / c,
                f"unexpected class folder {c}: not in the class index ({len(index)} classes)",
                f"remove the folder, or add the class to {where}",
            )
    if not allow_subset:
        have = set(classes)
        for i, w in enumerate(index.wnids):
            if w not in have:
                report.add(
                    root / w,
                    f"class {w} (index {i}) has no folder: ImageFolder would shift every later label by one",
                    "restore the folder (or pass allow_subset=True for A/R-style subsets)",
                )
    bad_names = [c for c in classes if not WNID.match(c)]
    if bad_names and all(WNID.match(w) for w in index.wnids):
        report.warn(
            root,
            f"folder names {bad_names[:3]} are not WordNet ids like n01440764",
            "rename the folders to their wnids",
        )
    return report.done()
