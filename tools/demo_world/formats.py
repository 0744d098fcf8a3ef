"""Writers of the real datasets' release formats, fed with synthetic scenes.

Each writer draws its own scenes from an RNG seeded by (seed, format, split, index), so formats and
items are independent and the output is byte-identical for a seed.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from PIL import Image

from .scenes import SHAPES, TEXTURES, make_scene

WNIDS = tuple(f"n0{k + 1}000000" for k in range(len(SHAPES)))  # sorted = index order, as ImageNet's
FORMAT_IDS = {"pretrain": 0, "imagenet": 1, "coco": 2, "ade": 3, "inat": 4, "places": 5, "robust": 6}


Job = tuple[Callable[..., int], tuple, int]  # a top-level function, its arguments, the images it writes


def run_jobs(jobs: list[Job], workers: int = 1, progress=None) -> None:
    """Run independent jobs (each writes its own files) here or in `workers` spawned processes; advance
    the `progress` bar (tqdm or None) by each job's image count as it finishes. Output does not depend on
    the order, since every image has its own seed."""
    if workers <= 1:
        for fn, args, n in jobs:
            fn(*args)
            if progress is not None:
                progress.update(n)
        return
    # spawn, not fork: the parent may hold torch/OpenMP threads, which a forked child can deadlock on
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(fn, *args): n for fn, args, n in jobs}
        try:
            for future in as_completed(futures):
                future.result()  # a worker's exception is raised here
                if progress is not None:
                    progress.update(futures[future])
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise


def rng_for(seed: int, fmt: str, split: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, FORMAT_IDS[fmt], split, index])


def save_jpg(arr: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, quality=90)


def write_json(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, sort_keys=True))


def write_pretrain(root: Path, n: int, seed: int, size: int, difficulty: float) -> None:
    """Unlabeled, object-centric like the ImageNet train images MAE pre-trains on (all classes, no labels)."""
    for i in range(n):
        scene = make_scene(rng_for(seed, "pretrain", 0, i), size, difficulty, object_centric=True)
        save_jpg(scene.image, root / f"img_{i:05d}.jpg")


def write_imagenet(root: Path, per_class: dict[str, int], seed: int, size: int, difficulty: float) -> None:
    """ImageFolder train/val with WordNet-id folders and a class index in ImageNet's (sorted wnid) order."""
    for split_id, (split, n) in enumerate(per_class.items()):
        for c, wnid in enumerate(WNIDS):
            for i in range(n):
                rng = rng_for(seed, "imagenet", split_id, c * 10000 + i)
                scene = make_scene(rng, size, difficulty, c, object_centric=True)
                save_jpg(scene.image, root / split / wnid / f"{wnid}_{i:05d}.JPEG")
    write_json({str(i): [w, s] for i, (w, s) in enumerate(zip(WNIDS, SHAPES))}, root / "imagenet_class_index.json")


def write_ade(root: Path, counts: dict[str, int], seed: int, size: int, difficulty: float) -> None:
    """ADEChallengeData2016 layout; `sceneCategories.txt` ("ADE_train_00000001 stripes") as in the release,
    and `maebench_classes.json` with the names and a palette of labels 1..K for mmseg's metainfo."""
    base = root / "ADEChallengeData2016"
    tag = {"training": "train", "validation": "val"}
    scenes = []
    for split_id, (split, n) in enumerate(counts.items()):
        for i in range(n):
            scene = make_scene(rng_for(seed, "ade", split_id, i), size, difficulty, main_shape=i % len(SHAPES))
            stem = f"ADE_{tag[split]}_{i + 1:08d}"
            save_jpg(scene.image, base / "images" / split / f"{stem}.jpg")
            (base / "annotations" / split).mkdir(parents=True, exist_ok=True)
            Image.fromarray(scene.semantic()).save(base / "annotations" / split / f"{stem}.png")
            scenes.append(f"{stem} {TEXTURES[scene.texture]}\n")
    (base / "sceneCategories.txt").write_text("".join(scenes))
    palette = np.random.default_rng(1234).integers(0, 256, (len(ade_classes()), 3)).tolist()  # fixed, seed-free
    write_json(
        {"classes": ade_classes(), "palette": palette, "num_classes": len(ade_classes()), "reduce_zero_label": True},
        base / "maebench_classes.json",
    )


def ade_classes() -> list[str]:
    """Names of labels 1..K (0 is 'other', ignored after reduce_zero_label)."""
    return list(SHAPES) + [f"{t}_stuff" for t in TEXTURES]


def write_inat(root: Path, per_class: dict[str, int], seed: int, size: int, difficulty: float) -> None:
    """iNaturalist 2019 layout: {train,val}2019.json + train_val2019/<supercategory>/<category id>/<hash>.jpg
    (the supercategory is the iconic group's folder name, absent from 2019's category entries)."""
    import hashlib

    cats = [
        {
            "id": c,
            "name": f"Shapus {s}",
            "kingdom": "Geometria",
            "phylum": "Planaria",
            "class": "Curvata" if s in ("circle", "ring") else "Angulata",
            "order": "Formae",
            "family": f"{s.capitalize()}idae",
            "genus": "Shapus",
        }
        for c, s in enumerate(SHAPES)
    ]
    img_id = 0
    for split_id, (split, n) in enumerate(per_class.items()):
        images, anns = [], []
        for c in range(len(SHAPES)):
            for i in range(n):
                img_id += 1
                rng = rng_for(seed, "inat", split_id, c * 10000 + i)
                scene = make_scene(rng, size, difficulty, c, object_centric=True)
                group = "Rounds" if cats[c]["class"] == "Curvata" else "Polygons"
                name = hashlib.md5(f"{seed}/{split}/{c}/{i}".encode()).hexdigest()
                rel = f"train_val2019/{group}/{c}/{name}.jpg"
                save_jpg(scene.image, root / rel)
                images.append(
                    {
                        "id": img_id,
                        "file_name": rel,
                        "width": size,
                        "height": size,
                        "license": 1,
                        "rights_holder": "maebench (synthetic)",
                    }
                )
                anns.append({"id": img_id, "image_id": img_id, "category_id": c})
        write_json(
            {
                "info": {"year": 2019, "version": "1.0", "description": "maebench demo world (synthetic)"},
                "licenses": [{"id": 1, "name": "CC0 (synthetic)", "url": ""}],
                "images": images,
                "annotations": anns,
                "categories": cats,
            },
            root / f"{split}2019.json",
        )


def write_places(root: Path, per_class: dict[str, int], seed: int, size: int, difficulty: float) -> None:
    """Places365-Standard layout: file lists + categories; the scene is the background texture family."""
    names = [f"/{t[0]}/{t}" for t in TEXTURES]
    root.mkdir(parents=True, exist_ok=True)
    (root / "categories_places365.txt").write_text("".join(f"{n} {i}\n" for i, n in enumerate(names)))
    for split_id, (split, n) in enumerate(per_class.items()):
        lines = []
        for t in range(len(TEXTURES)):
            for i in range(n):
                scene = make_scene(
                    rng_for(seed, "places", split_id, t * 10000 + i), size, difficulty, texture=t, scene_centric=True
                )
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
