"""Writers of the real datasets' release formats, fed with synthetic scenes.

Each writer draws its own scenes from an RNG seeded by (seed, format, split, index), so formats and
items are independent and the output is byte-identical for a seed.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from .scenes import SHAPES, TEXTURES, make_scene, sketch

COCO_CAT_IDS = (2, 5, 11, 17, 23, 42)  # non-contiguous, as COCO's 1..90 for 80 classes
WNIDS = tuple(f"n0{k + 1}000000" for k in range(len(SHAPES)))  # sorted = index order, as ImageNet's
FORMAT_IDS = {"pretrain": 0, "imagenet": 1, "coco": 2, "ade": 3, "inat": 4, "places": 5, "robust": 6}


def rng_for(seed: int, fmt: str, split: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, FORMAT_IDS[fmt], split, index])


def save_jpg(arr: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, quality=90)


def write_json(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, sort_keys=True))


def write_pretrain(root: Path, n: int, seed: int, size: int) -> None:
    for i in range(n):
        save_jpg(make_scene(rng_for(seed, "pretrain", 0, i), size).image, root / f"img_{i:05d}.jpg")


def write_imagenet(root: Path, per_class: dict[str, int], seed: int, size: int, difficulty: float) -> None:
    """ImageFolder train/val with WordNet-id folders and a class index in ImageNet's (sorted wnid) order."""
    for split_id, (split, n) in enumerate(per_class.items()):
        for c, wnid in enumerate(WNIDS):
            for i in range(n):
                scene = make_scene(rng_for(seed, "imagenet", split_id, c * 10000 + i), size, difficulty, c)
                save_jpg(scene.image, root / split / wnid / f"{wnid}_{i:05d}.JPEG")
    write_json({str(i): [w, s] for i, (w, s) in enumerate(zip(WNIDS, SHAPES))}, root / "imagenet_class_index.json")


def _coco_segmentation(mask: np.ndarray, as_rle: bool):
    if as_rle:  # uncompressed RLE (counts as a list, column-major runs starting with zeros), as COCO's crowds
        flat = mask.T.reshape(-1).astype(np.int8)
        edges = np.flatnonzero(np.diff(flat)) + 1
        runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
        if flat[0] == 1:
            runs = [0] + runs
        return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": runs}
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]
    return polys or None


def write_coco(root: Path, counts: dict[str, int], seed: int, size: int, difficulty: float) -> None:
    cats = [{"id": cid, "name": name, "supercategory": "shape"} for cid, name in zip(COCO_CAT_IDS, SHAPES)]
    for split_id, (split, n) in enumerate(counts.items()):
        images, anns = [], []
        for i in range(n):
            rng = rng_for(seed, "coco", split_id, i)
            scene = make_scene(rng, size, difficulty)
            name = f"{i + 1:012d}.jpg"
            save_jpg(scene.image, root / f"{split}2017" / name)
            images.append({"id": i + 1, "file_name": name, "width": size, "height": size})
            for inst in scene.instances:
                crowd = bool(rng.random() < 0.1)
                seg = _coco_segmentation(inst.mask, as_rle=crowd or SHAPES[inst.shape] == "ring")
                if seg is None:
                    continue
                rle = (mask_utils.frPyObjects(seg, size, size) if isinstance(seg, dict)
                       else mask_utils.merge(mask_utils.frPyObjects(seg, size, size)))
                area = float(mask_utils.area(rle))  # of the mask this annotation encodes
                if area < 4:
                    continue
                x, y, w, h = (float(v) for v in mask_utils.toBbox(rle))
                anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": COCO_CAT_IDS[inst.shape],
                             "segmentation": seg, "area": area, "bbox": [x, y, w, h], "iscrowd": int(crowd)})
        write_json({"info": {"description": "maebench demo world (synthetic)", "version": "1.0"},
                    "licenses": [], "images": images, "annotations": anns, "categories": cats},
                   root / "annotations" / f"instances_{split}2017.json")


def write_ade(root: Path, counts: dict[str, int], seed: int, size: int, difficulty: float) -> None:
    base = root / "ADEChallengeData2016"
    tag = {"training": "train", "validation": "val"}
    for split_id, (split, n) in enumerate(counts.items()):
        for i in range(n):
            scene = make_scene(rng_for(seed, "ade", split_id, i), size, difficulty)
            stem = f"ADE_{tag[split]}_{i + 1:08d}"
            save_jpg(scene.image, base / "images" / split / f"{stem}.jpg")
            (base / "annotations" / split).mkdir(parents=True, exist_ok=True)
            Image.fromarray(scene.semantic()).save(base / "annotations" / split / f"{stem}.png")
    write_json({"classes": ade_classes(), "reduce_zero_label": True}, base / "maebench_classes.json")


def ade_classes() -> list[str]:
    """Names of labels 1..K (0 is 'other', ignored after reduce_zero_label)."""
    return list(SHAPES) + [f"{t}_stuff" for t in TEXTURES]


def write_inat(root: Path, per_class: dict[str, int], seed: int, size: int, difficulty: float) -> None:
    """iNaturalist 2019 layout: {train,val}2019.json + train_val2019/<supercategory>/<category id>/*.jpg."""
    cats = [{"id": c, "name": f"Shapus {s}", "kingdom": "Geometria", "phylum": "Planaria",
             "class": "Curvata" if s in ("circle", "ring") else "Angulata", "order": "Formae",
             "family": f"{s.capitalize()}idae", "genus": "Shapus"} for c, s in enumerate(SHAPES)]
    img_id = 0
    for split_id, (split, n) in enumerate(per_class.items()):
        images, anns = [], []
        for c in range(len(SHAPES)):
            for i in range(n):
                img_id += 1
                scene = make_scene(rng_for(seed, "inat", split_id, c * 10000 + i), size, difficulty, c)
                rel = f"train_val2019/Shapes/{c}/{split}_{img_id:06d}.jpg"
                save_jpg(scene.image, root / rel)
                images.append({"id": img_id, "file_name": rel, "width": size, "height": size})
                anns.append({"id": img_id, "image_id": img_id, "category_id": c})
        write_json({"info": {"year": 2019}, "images": images, "annotations": anns, "categories": cats},
                   root / f"{split}2019.json")


def write_places(root: Path, per_class: dict[str, int], seed: int, size: int, difficulty: float) -> None:
    """Places365-Standard layout: file lists + categories; the scene is the background texture family."""
    names = [f"/{t[0]}/{t}" for t in TEXTURES]
    root.mkdir(parents=True, exist_ok=True)
    (root / "categories_places365.txt").write_text("".join(f"{n} {i}\n" for i, n in enumerate(names)))
    for split_id, (split, n) in enumerate(per_class.items()):
        lines = []
        for t in range(len(TEXTURES)):
            for i in range(n):
                scene = make_scene(rng_for(seed, "places", split_id, t * 10000 + i), size, difficulty, texture=t)
                if split == "train":
                    rel = f"{names[t]}/{i + 1:08d}.jpg"
                    save_jpg(scene.image, root / "data_256" / rel.lstrip("/"))
                    lines.append(f"{rel} {t}")
                else:
                    rel = f"Places365_val_{t * 10000 + i + 1:08d}.jpg"
                    save_jpg(scene.image, root / "val_256" / rel)
                    lines.append(f"{rel} {t}")
        fname = "places365_train_standard.txt" if split == "train" else "places365_val.txt"
        (root / fname).write_text("\n".join(lines) + "\n")
