"""COCO instance annotations (`instances_{train,val}2017.json` + image folders), checked as pycocotools,
mmdet and detectron2 read them.

Structural checks run on every image and annotation (a Python pass over COCO train's 860k annotations
takes seconds, less than loading the JSON); image files are checked on a sample unless deep=True.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .problems import DEFAULT_SAMPLE, Problem, Report, check_files, load_json

BBOX_TOL = 2.0  # pixels: polygons and pycocotools' rasterised boxes differ by about one pixel
_NUMBER_TYPES = {int, float}


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _polygon_ok(poly: Any) -> bool:
    """A flat list of an even number (>= 6) of finite numbers; C-level passes (this runs on every
    coordinate of every annotation: millions for COCO train)."""
    return (
        isinstance(poly, list)
        and len(poly) >= 6
        and len(poly) % 2 == 0
        and set(map(type, poly)) <= _NUMBER_TYPES
        and math.isfinite(sum(poly))
    )


def _polygon_extent(polys: list) -> tuple[float, float, float, float] | None:
    xs = [v for p in polys for v in p[0::2]]
    ys = [v for p in polys for v in p[1::2]]
    return (min(xs), min(ys), max(xs), max(ys)) if xs else None


def has_coco_lists(data: Any, where: str, report: Report, fix: str) -> bool:
    """Whether a parsed JSON has COCO's top-level lists (iNaturalist's too); reported with `fix` if not."""
    if isinstance(data, dict) and all(isinstance(data.get(k), list) for k in ("images", "annotations", "categories")):
        return True
    report.add(where, "needs top-level lists 'images', 'annotations' and 'categories'", fix)
    return False


def valid_categories(categories: list, where: str, report: Report) -> Iterator[tuple[int, dict]]:
    """(id, entry) of each category with an integer 'id' and a string 'name'; the others are reported."""
    for c in categories:
        cid = c.get("id") if isinstance(c, dict) else None
        if isinstance(cid, int) and isinstance(c.get("name"), str):
            yield cid, c
        else:
            report.add(
                where, f"category {str(c)[:60]} needs an integer 'id' and a string 'name'", "fix the categories list"
            )


def _rle_extent(counts: list[int], h: int, w: int) -> tuple[tuple[float, float, float, float] | None, int]:
    """Box (x0, y0, x1, y1) and area of an uncompressed, column-major RLE (runs alternate 0s and 1s)."""
    pos, area = 0, 0
    x0 = y0 = math.inf
    x1 = y1 = -math.inf
    for k, run in enumerate(counts):
        if k % 2 == 1 and run > 0:
            s, e = pos, pos + run - 1
            cs, ce = s // h, e // h
            x0, x1 = min(x0, cs), max(x1, ce + 1)
            if cs == ce:
                y0, y1 = min(y0, s % h), max(y1, e % h + 1)
            else:
                y0, y1 = 0, h
            area += run
        pos += run
    return ((x0, y0, x1, y1) if area else None), area


def _check_segmentation(ann: dict, img: dict, report: Report, where: str) -> None:
    seg, bbox = ann.get("segmentation"), ann.get("bbox")
    h, w = img.get("height"), img.get("width")
    extent, mask_area = None, None
    if isinstance(seg, list):
        if not seg and not ann.get("iscrowd"):
            return  # box-only annotation: allowed by the format, ignored by mask heads
        for poly in seg:
            if not _polygon_ok(poly):
                report.add(
                    where,
                    f"annotation {ann.get('id')}: a polygon must be a flat list of an even number "
                    f"(>= 6) of finite coordinates, got {str(poly)[:60]}",
                    "drop degenerate polygons (fewer than 3 points) or re-export the annotation",
                )
                return
        extent = _polygon_extent(seg)
    elif isinstance(seg, dict):
        size, counts = seg.get("size"), seg.get("counts")
        if size != [h, w]:
            report.add(
                where,
                f"annotation {ann.get('id')}: RLE size {size} differs from its image's [height, width] = {[h, w]}",
                "encode the mask at the image's resolution",
            )
            return
        if isinstance(counts, list):
            if not all(isinstance(c, int) and c >= 0 for c in counts) or sum(counts) != h * w:
                report.add(
                    where,
                    f"annotation {ann.get('id')}: uncompressed RLE counts must be non-negative "
                    f"integers summing to height*width = {h * w}",
                    "re-encode the mask (pycocotools.mask.encode on a Fortran-ordered uint8 array)",
                )
                return
            extent, mask_area = _rle_extent(counts, h, w)
        elif not (isinstance(counts, str) and counts):
            report.add(
                where,
                f"annotation {ann.get('id')}: RLE counts must be a list or a compressed string",
                "re-encode the mask with pycocotools.mask.encode",
            )
            return
    else:
        report.add(
            where,
            f"annotation {ann.get('id')}: segmentation must be a list of polygons or an RLE dict, "
            f"got {type(seg).__name__}",
            "re-export the annotation in COCO format",
        )
        return
    if extent is not None and isinstance(bbox, list) and len(bbox) == 4 and all(map(_is_num, bbox)):
        x0, y0, x1, y1 = extent
        tol = max(BBOX_TOL, 0.1 * max(x1 - x0, y1 - y0))
        box = (bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3])
        if any(abs(a - b) > tol for a, b in zip(box, (x0, y0, x1, y1))):
            report.add(
                where,
                f"annotation {ann.get('id')}: bbox {bbox} does not enclose its mask (mask spans "
                f"x {x0:g}..{x1:g}, y {y0:g}..{y1:g})",
                "recompute bbox from the mask (pycocotools.mask.toBbox)",
            )
    if mask_area is not None and _is_num(ann.get("area")) and abs(ann["area"] - mask_area) > max(2, 0.02 * mask_area):
        report.add(
            where,
            f"annotation {ann.get('id')}: area {ann['area']:g} but its RLE mask has {mask_area} pixels",
            "recompute area from the mask (pycocotools.mask.area)",
        )


def validate_coco_json(
    json_path: str | Path, image_dir: str | Path | None = None, deep: bool = False, sample: int | None = DEFAULT_SAMPLE
) -> list[Problem]:
    """One `instances_*.json` and its image folder (default: `<json>/../../<split>` as in COCO's layout)."""
    json_path = Path(json_path)
    report = Report()
    data = load_json(json_path, report, "the COCO annotation file")
    if data is None:
        return report.done()
    where = str(json_path)
    if not has_coco_lists(
        data, where, report, "use an instances_*.json file (captions/keypoints files have other content)"
    ):
        return report.done()
    cats: dict[int, dict] = {}
    for cid, c in valid_categories(data["categories"], where, report):
        if cid in cats:
            report.add(where, f"category id {cid} appears twice", "give every category a unique id")
        else:
            cats[cid] = c
            if "supercategory" not in c:
                report.warn(
                    where,
                    f"category {cid} ({c['name']}) has no 'supercategory'",
                    "add one (COCO's loaders tolerate its absence, some tools do not)",
                )
    names = [c["name"] for c in cats.values()]
    if len(set(names)) != len(names):
        report.add(where, "category names repeat", "give every category a unique name (mmdet maps by name)")
    images: dict[int, dict] = {}
    files: list[str] = []
    sizes: list[tuple[int, int]] = []
    seen_files: set[str] = set()
    for img in data["images"]:
        iid = img.get("id") if isinstance(img, dict) else None
        ok = (
            isinstance(iid, int)
            and isinstance(img.get("file_name"), str)
            and isinstance(img.get("width"), int)
            and isinstance(img.get("height"), int)
            and img["width"] > 0
            and img["height"] > 0
        )
        if not ok:
            report.add(
                where,
                f"image entry {str(img)[:80]} needs integer 'id', string 'file_name' and positive "
                "integer 'width'/'height'",
                "fix the images list",
            )
            continue
        if iid in images:
            report.add(where, f"image id {iid} appears twice", "give every image a unique id")
        if img["file_name"] in seen_files:
            report.add(where, f"file_name {img['file_name']} appears twice", "list every image once")
        images[iid] = img
        seen_files.add(img["file_name"])
        files.append(img["file_name"])
        sizes.append((img["width"], img["height"]))
    ann_ids: set[int] = set()
    used_cats: set[int] = set()
    for ann in data["annotations"]:
        if not isinstance(ann, dict):
            report.add(where, f"annotation {str(ann)[:60]} is not an object", "fix the annotations list")
            continue
        aid = ann.get("id")
        if not isinstance(aid, int) or aid in ann_ids:
            report.add(
                where,
                f"annotation id {aid!r} is missing, not an integer, or repeated",
                "give every annotation a unique integer id (COCOeval matches by id)",
            )
        ann_ids.add(aid)
        img = images.get(ann.get("image_id"))
        if img is None:
            report.add(
                where,
                f"annotation {aid}: image_id {ann.get('image_id')!r} is not in 'images'",
                "remove the annotation or add its image",
            )
            continue
        if ann.get("category_id") not in cats:
            report.add(
                where,
                f"annotation {aid}: category_id {ann.get('category_id')!r} is not one of the categories {sorted(cats)}",
                "use a listed category id (ids are not contiguous in COCO: do not use 0-based class indices)",
            )
        else:
            used_cats.add(ann["category_id"])
        if ann.get("iscrowd", 0) not in (0, 1):
            report.add(
                where,
                f"annotation {aid}: iscrowd must be 0 or 1, got {ann.get('iscrowd')!r}",
                "set iscrowd to 0 (one object) or 1 (a crowd region)",
            )
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(map(_is_num, bbox))):
            report.add(
                where,
                f"annotation {aid}: bbox must be [x, y, width, height], got {bbox!r}",
                "write boxes as [x, y, width, height] in pixels (not x1, y1, x2, y2)",
            )
        else:
            x, y, bw, bh = bbox
            if bw <= 0 or bh <= 0:
                report.warn(where, f"annotation {aid}: empty bbox {bbox}", "drop it (mmdet skips boxes under 1 px)")
            elif x + bw <= 0 or y + bh <= 0 or x >= img["width"] or y >= img["height"]:
                report.add(
                    where,
                    f"annotation {aid}: bbox {bbox} lies outside its {img['width']}x{img['height']} image",
                    "check the box format ([x, y, width, height]) and the image size",
                )
            elif min(x, y) < -BBOX_TOL or x + bw > img["width"] + BBOX_TOL or y + bh > img["height"] + BBOX_TOL:
                report.warn(where, f"annotation {aid}: bbox {bbox} extends past its image", "clip it to the image")
        if not _is_num(ann.get("area")) or ann["area"] < 0:
            report.add(
                where,
                f"annotation {aid}: area must be a non-negative number, got {ann.get('area')!r}",
                "set area to the mask's pixel count (pycocotools.mask.area)",
            )
        if "segmentation" in ann:
            _check_segmentation(ann, img, report, where)
    for cid in sorted(set(cats) - used_cats):
        report.warn(
            where,
            f"category {cid} ({cats[cid]['name']}) has no annotations",
            "expected only for subsets; AP for it will be -1 (undefined)",
        )
    if image_dir is None:
        split = json_path.stem.split("_", 1)[-1]  # instances_val2017 -> val2017
        image_dir = json_path.parent.parent / split
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        report.add(
            image_dir,
            f"image folder for {json_path.name} not found",
            f"put the images of {json_path.name} in {image_dir}, or pass image_dir=",
        )
    elif files:
        check_files(image_dir, files, report, deep, sample, sizes, what=json_path.name)
    return report.done()


def validate_coco(
    root_or_json: str | Path,
    deep: bool = False,
    sample: int | None = DEFAULT_SAMPLE,
    image_dir: str | Path | None = None,
) -> list[Problem]:
    """A COCO root (`annotations/instances_*.json` + one image folder per split) or one annotation file.

    deep=True checks every image file and decodes it; otherwise `sample` files per split are checked.
    """
    path = Path(root_or_json)
    if path.is_file() or path.suffix == ".json":
        return validate_coco_json(path, image_dir, deep, sample)
    report = Report()
    found = sorted((path / "annotations").glob("instances_*.json"))
    if not path.is_dir():
        report.add(path, "COCO root not found", "pass the folder that holds annotations/ and the image folders")
    elif not found:
        report.add(
            path / "annotations",
            "no instances_*.json annotation files",
            "download annotations_trainval2017.zip and unpack it here (annotations/instances_train2017.json)",
        )
    problems = report.done()
    for json_path in found:
        problems += validate_coco_json(json_path, None, deep, sample)
    return problems
