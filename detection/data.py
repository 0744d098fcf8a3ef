"""COCO data for the detector: the release layout, checks before training, and the `--skip-bad` policy.

Layout: `ROOT/annotations/instances_<split>.json` and `ROOT/<split>/` (COCO 2017; the demo world writes the
same). Before any training step every split is checked with the shared validator (`dataformats.coco`) and
every listed image file is looked up, so a bad file fails in seconds with its name and the fix, not as a
crash in the middle of an epoch. With `skip_bad`, bad annotations and images whose file is missing are
dropped instead, the cleaned annotation file is written to the work dir (it is what training and evaluation
read), and the counts are reported and stored in metrics.json.

Classes are the annotation file's categories in file order; mmdet and the evaluator map contiguous labels to
these ids, so the ids round-trip whatever their gaps (COCO: 80 classes, ids 1..90).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataformats import errors, format_problems, validate_coco_json
from dataformats.coco import _check_segmentation
from dataformats.problems import Report
from mae_backbone.errors import BadInputError
from mae_backbone.fileio import atomic_write_json


@dataclass
class Split:
    """One prepared split: the annotation file to read (original or cleaned), its images, what was skipped."""

    name: str
    ann_file: Path
    img_dir: Path
    classes: list[str]
    cat_ids: list[int]
    num_images: int
    num_annotations: int
    skipped: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)  # annotation file + images, for the dataset fingerprint


def split_paths(root: str | Path, split: str) -> tuple[Path, Path]:
    root = Path(root)
    return root / "annotations" / f"instances_{split}.json", root / split


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise BadInputError(
            f"{path}: annotation file not found; point --data at the COCO folder that holds "
            "annotations/instances_<split>.json and the image folders"
        )
    try:
        data = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadInputError(
            f"{path}: not valid JSON ({err}); re-download or regenerate it (it may be truncated)"
        ) from None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise BadInputError(
            f"{path}: needs top-level lists 'images', 'annotations' and 'categories'; use an instances_*.json file"
        )
    return data


def _check_classes(path: Path, data: dict[str, Any], num_classes: int) -> tuple[list[str], list[int]]:
    cats = [c for c in data["categories"] if isinstance(c, dict)]
    if len(cats) != num_classes:
        raise BadInputError(
            f"{path}: {len(cats)} categories, but the config says data.num_classes={num_classes}; set "
            f"data.num_classes={len(cats)} (the heads are sized from it) or use the matching annotation file"
        )
    return [c.get("name") for c in cats], [c.get("id") for c in cats]


def _missing_images(data: dict[str, Any], img_dir: Path) -> dict[Any, str]:
    """Id -> file name of the images whose file is absent (one stat per image: seconds for COCO's 118k)."""
    return {
        im.get("id"): im["file_name"]
        for im in data["images"]
        if isinstance(im, dict) and isinstance(im.get("file_name"), str) and not (img_dir / im["file_name"]).is_file()
    }


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def annotation_problem(ann: Any, images: dict[Any, dict], cat_ids: set[int]) -> str | None:
    """Why an annotation cannot be trained or evaluated on (None: usable). Same rules as the validator."""
    if not isinstance(ann, dict):
        return "not an object"
    img = images.get(ann.get("image_id"))
    if img is None:
        return "unknown image_id"
    if ann.get("category_id") not in cat_ids:
        return "unknown category_id"
    box = ann.get("bbox")
    if not (isinstance(box, list) and len(box) == 4 and all(map(_num, box))):
        return "malformed bbox"
    x, y, w, h = box
    if w <= 0 or h <= 0 or x + w <= 0 or y + h <= 0 or x >= img["width"] or y >= img["height"]:
        return "bbox empty or outside the image"
    if ann.get("iscrowd", 0) not in (0, 1) or not _num(ann.get("area")) or ann["area"] < 0:
        return "bad iscrowd or area"
    if "segmentation" in ann:
        report = Report(limit=1)
        _check_segmentation(ann, img, report, "")
        if errors(report):
            return "bad segmentation (degenerate polygon, RLE or box not enclosing the mask)"
    return None


def _clean(data: dict[str, Any], missing: dict[Any, str]) -> tuple[dict[str, Any], dict[str, int]]:
    images = {
        im["id"]: im
        for im in data["images"]
        if isinstance(im, dict)
        and im.get("id") not in missing
        and isinstance(im.get("width"), int)
        and isinstance(im.get("height"), int)
    }
    cat_ids = {c.get("id") for c in data["categories"] if isinstance(c, dict)}
    kept, reasons, seen = [], {}, set()
    for ann in data["annotations"]:
        why = annotation_problem(ann, images, cat_ids)
        if why is None and (not isinstance(ann.get("id"), int) or ann["id"] in seen):
            why = "missing or repeated annotation id"
        if why is None:
            kept.append(ann)
            seen.add(ann["id"])
        else:
            reasons[why] = reasons.get(why, 0) + 1
    skipped = {
        "images": len(data["images"]) - len(images),
        "annotations": len(data["annotations"]) - len(kept),
        **{f"annotations: {k}": v for k, v in sorted(reasons.items())},
    }
    return {**data, "images": list(images.values()), "annotations": kept}, skipped


def prepare_split(
    root: str | Path,
    split: str,
    num_classes: int,
    skip_bad: bool = False,
    work_dir: str | Path | None = None,
    deep: bool = False,
) -> Split:
    """Check one split; raise `BadInputError` naming files and annotation ids, or (skip_bad) drop and count."""
    ann_file, img_dir = split_paths(root, split)
    original = ann_file
    data = _load(ann_file)  # malformed JSON cannot be skipped around: always an error
    classes, cat_ids = _check_classes(ann_file, data, num_classes)
    problems = validate_coco_json(ann_file, img_dir, deep=deep)
    missing = _missing_images(data, img_dir) if img_dir.is_dir() else {}
    bad = errors(problems)
    skipped: dict[str, int] = {}
    if (bad or missing) and not skip_bad:
        lines = format_problems(bad, str(ann_file)) if bad else f"{ann_file}: 0 annotation problems"
        if missing:
            ids = sorted(missing, key=str)
            lines += (
                f"\n  - {len(missing)} listed image(s) missing in {img_dir} (image ids "
                f"{', '.join(map(str, ids[:5]))}{' …' if len(ids) > 5 else ''}; files "
                f"{', '.join(missing[i] for i in ids[:3])}{' …' if len(ids) > 3 else ''})"
            )
        raise BadInputError(
            f"{lines}\nfix the files, or pass --skip-bad to drop bad annotations and images whose "
            "file is missing (the counts are reported and stored in metrics.json)"
        )
    if bad or missing:
        if work_dir is None:
            raise BadInputError(f"{ann_file}: --skip-bad needs a work dir for the cleaned annotation file")
        data, skipped = _clean(data, missing)
        ann_file = Path(work_dir) / "data" / f"instances_{split}.json"
        ann_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(ann_file, data)
        left = errors(validate_coco_json(ann_file, img_dir, deep=deep))
        if left:  # problems the skip policy cannot drop (e.g. repeated category ids)
            raise BadInputError(format_problems(left, f"{ann_file} (after --skip-bad)") + "\nfix the original file")
    files = [original] + [img_dir / im["file_name"] for im in data["images"]]
    return Split(
        split, ann_file, img_dir, classes, cat_ids, len(data["images"]), len(data["annotations"]), skipped, files
    )


def prepare_cfg_split(data: dict[str, Any], split: str, work_dir: str | Path) -> Split:
    """`prepare_split` of one split named by the config's `data` (its root, classes, skip_bad and verify)."""
    return prepare_split(data["root"], split, data["num_classes"], data["skip_bad"], work_dir, data["verify"] == "deep")
