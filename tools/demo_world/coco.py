"""The COCO writer: instance masks as exact polygons (RLE only for crowd regions), as COCO ships them.

COCO polygons cannot have holes and its loaders union several polygons of one object, so a ring, or a
shape with a distractor on top of its middle, needs each hole joined to the outer boundary by a zero-width
cut (a "keyhole" polygon): pycocotools rasterises with the even-odd rule, so the cut, drawn twice, adds
nothing and the hole stays empty. Contours are traced on the mask upsampled 2x, which puts vertices on
pixel edges, so pycocotools rasterises each polygon back to exactly the pixels drawn (tested).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from .formats import rng_for, save_jpg, write_json
from .scenes import SHAPES, make_scene

COCO_CAT_IDS = (2, 5, 11, 17, 23, 42)  # non-contiguous, as COCO's 1..90 for 80 classes
SUPERCATEGORY = {"circle": "round", "ring": "round"}  # the others: "angular"
CROWD_FRACTION = 0.1  # share of instances annotated as iscrowd=1 regions (RLE), ignored by COCOeval matching
MIN_AREA = 4  # pixels; smaller slivers are dropped from the annotations (they stay in the images)


def categories() -> list[dict]:
    return [
        {"id": cid, "name": name, "supercategory": SUPERCATEGORY.get(name, "angular")}
        for cid, name in zip(COCO_CAT_IDS, SHAPES)
    ]


def _keyhole(outer: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Join a hole to the outer ring at their closest vertices: outer..i, hole j..end, hole 0..j, outer i.."""
    d = ((outer[:, None, :] - hole[None, :, :]) ** 2).sum(-1)
    i, j = np.unravel_index(int(np.argmin(d)), d.shape)
    return np.concatenate([outer[: i + 1], hole[j:], hole[: j + 1], outer[i:]])


def mask_to_polygons(mask: np.ndarray) -> list[list[float]]:
    """Polygons (flat [x0, y0, x1, y1, ...] lists in COCO pixel coordinates) that rasterise to `mask`."""
    big = np.ascontiguousarray(mask.astype(np.uint8).repeat(2, 0).repeat(2, 1))
    contours, hierarchy = cv2.findContours(big, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for k, contour in enumerate(contours):
        nxt, _prev, child, parent = hierarchy[0][k]
        if parent != -1:
            continue  # a hole: spliced into its parent below
        ring = contour.reshape(-1, 2)
        while child != -1:
            ring = _keyhole(ring, contours[child].reshape(-1, 2))
            child = hierarchy[0][child][0]
        if len(ring) >= 3:
            polys.append(((ring.astype(np.float64) + 0.5) / 2).reshape(-1).tolist())
    return polys


def uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's crowd encoding: column-major runs of 0s and 1s, starting with a (possibly empty) run of 0s."""
    flat = mask.T.reshape(-1).astype(np.int8)
    edges = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": ([0] if flat[0] else []) + runs}


def annotate(instances, rng: np.random.Generator, size: int) -> list[dict]:
    """COCO annotation bodies (no ids) for a scene's instances; area and bbox come from the mask that the
    annotation itself encodes, so they agree with what pycocotools decodes."""
    out = []
    for inst in instances:
        crowd = bool(rng.random() < CROWD_FRACTION)
        seg = uncompressed_rle(inst.mask) if crowd else mask_to_polygons(inst.mask)
        if not seg:
            continue
        rle = mask_utils.frPyObjects(seg, size, size)
        rle = rle if crowd else mask_utils.merge(rle)
        area = float(mask_utils.area(rle))
        if area < MIN_AREA:
            continue
        out.append(
            {
                "category_id": COCO_CAT_IDS[inst.shape],
                "segmentation": seg,
                "area": area,
                "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                "iscrowd": int(crowd),
            }
        )
    return out


def write_coco(root: Path, counts: dict[str, int], seed: int, size: int, difficulty: float) -> None:
    for split_id, (split, n) in enumerate(counts.items()):
        images, anns = [], []
        for i in range(n):
            rng = rng_for(seed, "coco", split_id, i)
            scene = make_scene(rng, size, difficulty, main_shape=i % len(SHAPES))  # every class in every split
            name = f"{i + 1:012d}.jpg"
            save_jpg(scene.image, root / f"{split}2017" / name)
            images.append({"id": i + 1, "file_name": name, "width": size, "height": size, "license": 1})
            for ann in annotate(scene.instances, rng, size):
                anns.append({"id": len(anns) + 1, "image_id": i + 1, **ann})
        write_json(
            {
                "info": {"description": "maebench demo world (synthetic)", "version": "1.0", "year": 2017},
                "licenses": [{"id": 1, "name": "CC0 (synthetic)", "url": ""}],
                "images": images,
                "annotations": anns,
                "categories": categories(),
            },
            root / "annotations" / f"instances_{split}2017.json",
        )
