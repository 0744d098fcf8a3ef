"""The embedded demo world: synthetic shapes on textures, written in the real datasets' release formats.

`generate(out_dir, seed, size)` writes everything; `generate_cached(out_dir, seed, size)` (the same arguments,
in the same order) returns at once when a world with the same parameters is already complete in that folder (a
stamp file, written last and atomically).
`check_world(root)` runs the `dataformats` validators over a generated world.

Every image is drawn from its own generator seeded by (seed, format, split, index), so the output is
byte-identical for a seed whatever the number of worker processes.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from mae_backbone.errors import BadInputError  # light: neither mae_backbone.errors nor fileio loads torch
from mae_backbone.fileio import atomic_write_json

from .coco import COCO_CAT_IDS, write_coco
from .corruptions import CORRUPTIONS, imagenet_c_jobs
from .formats import WNIDS, ade_classes, run_jobs, write_ade, write_imagenet, write_inat, write_places, write_pretrain
from .robustness import A_CLASSES, R_CLASSES, write_robustness
from .scenes import SHAPES, TEXTURES
from .sizes import SIZES, counts

STAMP = ".maebench_demo_world.json"
PARTIAL = ".maebench_demo_world.partial"  # present while a generation is under way (or was cut off)
VERSION = 6  # 6: 50 val images per class for imagenet/ (was 25: one image was 0.7 points)
# The default difficulty: at 0.25 a 6-block ViT trained from scratch for a minute on 2 cores lands well above
# chance and well below perfect on the classification formats (measured numbers in the README); at 0.5 (the
# default up to version 3) it stayed at chance for 600 steps.
DIFFICULTY = 0.25
FOLDERS = ("pretrain", "imagenet", "coco", "ade", "inat", "places", "robustness")


def summary(root: str | Path, size: str, seed: int, image_size: int, difficulty: float = DIFFICULTY) -> dict[str, Any]:
    """Paths, class names and counts of a world with these parameters (computed, nothing is read)."""
    root = Path(root)
    rob = root / "robustness"
    return {
        "root": str(root),
        "size": size,
        "seed": seed,
        "image_size": image_size,
        "difficulty": difficulty,
        "version": VERSION,
        "pretrain": str(root / "pretrain"),
        "imagenet": str(root / "imagenet"),
        "coco": str(root / "coco"),
        "ade": str(root / "ade" / "ADEChallengeData2016"),
        "inat": str(root / "inat"),
        "places": str(root / "places"),
        "robustness": str(rob),
        "imagenet_c": str(rob / "c"),
        "class_index": str(root / "imagenet" / "imagenet_class_index.json"),
        "a_indices": str(rob / "imagenet_a_indices.txt"),
        "a_synsets": str(rob / "imagenet_a_synsets.txt"),
        "r_indices": str(rob / "imagenet_r_indices.txt"),
        "r_synsets": str(rob / "imagenet_r_synsets.txt"),
        "ade_meta": str(root / "ade" / "ADEChallengeData2016" / "maebench_classes.json"),
        "classes": list(SHAPES),
        "wnids": list(WNIDS),
        "scenes": list(TEXTURES),
        "ade_classes": ade_classes(),
        "ade_num_classes": len(ade_classes()),
        "coco_categories": dict(zip(COCO_CAT_IDS, SHAPES)),
        "a_classes": list(A_CLASSES),
        "r_classes": list(R_CLASSES),
        "c_classes": list(range(SIZES[size]["c_classes"] or len(SHAPES))),
        "corruptions": list(CORRUPTIONS),
        "counts": counts(size),
    }


def _stamp(size: str, seed: int, image_size: int, difficulty: float) -> dict[str, Any]:
    return {"size": size, "seed": seed, "image_size": image_size, "difficulty": difficulty, "version": VERSION}


def _prepare(root: Path) -> None:
    """Empty an earlier demo world (complete or cut off) in `root`; refuse a folder holding anything else,
    so a mistyped --out never deletes a user's data."""
    if root.exists() and not root.is_dir():
        _refuse(f"{root} is a file", "pass a folder path to --out")
    root.mkdir(parents=True, exist_ok=True)
    entries = set(os.listdir(root))
    if not entries:
        return
    if not ({STAMP, PARTIAL} & entries):
        _refuse(
            f"{root} is not empty and holds no demo world ({', '.join(sorted(entries)[:3])}, ...)",
            "pass a new or empty folder to --out (an earlier demo world there is replaced)",
        )
    for name in entries & (set(FOLDERS) | {"README.md", STAMP}):
        path = root / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _refuse(message: str, fix: str) -> None:
    raise BadInputError(f"{message}; {fix}")


def generate(
    out_dir: str | Path,
    seed: int = 0,
    size: str = "small",
    image_size: int = 128,
    difficulty: float = DIFFICULTY,
    progress: bool = False,
    workers: int | None = None,
) -> dict[str, Any]:
    """Write the demo world to `out_dir` and return `summary(...)` plus "seconds" and "files".

    difficulty in [0, 1] scales distractors, occlusion, object position and contrast (see scenes.make_scene).
    workers: processes that share the work (formats and ImageNet-C levels); default min(2, CPUs) for
    `small`, 1 for `tiny` (starting processes costs more than it saves there). Output is the same.
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    if not 32 <= int(image_size) <= 1024:
        raise ValueError(f"image_size must be in 32..1024 (imagecorruptions needs >= 32), got {image_size}")
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty}")
    root, spec, n = Path(out_dir), SIZES[size], counts(size)
    _prepare(root)
    (root / PARTIAL).touch()
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if n["robustness"]["c"] > 300 else 1
    c_classes = tuple(range(spec["c_classes"] or len(SHAPES)))
    rob, tot = n["robustness"], {k: sum(v.values()) for k, v in n.items() if isinstance(v, dict)}
    # independent jobs, each writing its own files; the slow ImageNet-C glass_blur levels first
    jobs = imagenet_c_jobs(root / "robustness" / "c", spec["c"], seed, image_size, c_classes)
    jobs[5:5] = [
        (write_imagenet, (root / "imagenet", spec["cls"], seed, image_size, difficulty), tot["imagenet"]),
        (write_pretrain, (root / "pretrain", spec["pretrain"], seed, image_size, difficulty), n["pretrain"]),
        (write_inat, (root / "inat", spec["inat"], seed, image_size, difficulty), tot["inat"]),
        (write_places, (root / "places", spec["places"], seed, image_size, difficulty), tot["places"]),
        (write_coco, (root / "coco", spec["coco"], seed, image_size, difficulty), tot["coco"]),
        (write_ade, (root / "ade", spec["ade"], seed, image_size, difficulty), tot["ade"]),
        (write_robustness, (root / "robustness", spec["robust"], seed, image_size), tot["robustness"] - rob["c"]),
    ]
    total = sum(job[2] for job in jobs)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"demo world ({workers} process{'es' if workers > 1 else ''})", unit="img")
    started = time.perf_counter()
    try:
        run_jobs(jobs, workers, bar)
    finally:
        if bar is not None:
            bar.close()
    from .readme import write_readme

    write_readme(root, size, seed, image_size, difficulty, spec)
    info = summary(root, size, seed, image_size, difficulty)
    info["seconds"] = round(time.perf_counter() - started, 1)
    info["files"] = total
    atomic_write_json(root / STAMP, _stamp(size, seed, image_size, difficulty))  # readers see no stamp or all of it
    (root / PARTIAL).unlink()
    return info


def generate_cached(
    out_dir: str | Path, seed: int = 0, size: str = "tiny", image_size: int = 128, difficulty: float = DIFFICULTY
) -> dict[str, Any]:
    """Generate unless a complete world with these parameters is already there (then return at once).
    The arguments are `generate`'s, in its order (only the default size differs: tiny)."""
    root = Path(out_dir)
    stamp = root / STAMP
    if stamp.is_file() and not (root / PARTIAL).exists():
        try:
            done = json.loads(stamp.read_text())
        except (OSError, json.JSONDecodeError):
            done = {}
        if done == _stamp(size, seed, image_size, difficulty):
            return summary(root, size, seed, image_size, difficulty)
    return generate(root, seed, size, image_size, difficulty)


def check_world(root: str | Path, deep: bool = False) -> list:
    """Run every `dataformats` validator over a generated world; returns the Problems found."""
    import dataformats as df

    root = Path(root)
    stamp = json.loads((root / STAMP).read_text())
    info = summary(root, stamp["size"], stamp["seed"], stamp["image_size"], stamp["difficulty"])
    index = info["class_index"]
    rob = Path(info["robustness"])
    problems = df.validate_coco(info["coco"], deep=deep)
    problems += df.validate_ade20k(info["ade"], info["ade_num_classes"], deep=deep)
    for split in ("train", "val"):
        problems += df.validate_imagefolder(Path(info["imagenet"]) / split, index, deep=deep)
    problems += df.validate_inat(info["inat"], 2019, deep=deep)
    problems += df.validate_places(info["places"], deep=deep)
    problems += df.validate_imagefolder(rob / "sketch", index, deep=deep)
    for name in ("a", "r"):
        problems += df.validate_subset_index(info[f"{name}_indices"], index, rob / name, info[f"{name}_synsets"])
    problems += df.validate_imagenet_c(info["imagenet_c"], index, deep=deep)
    return problems
