"""COCO evaluation speed: faster-coco-eval vs pycocotools on the same detections (issue 9, benchmark 4).

Ground truth: the demo world's COCO-format annotations (generated if needed). Detections: the ground
truth jittered (boxes shifted/scaled, masks dilated or eroded, some dropped, false positives added, random
scores), a few thousand instances. Both go through the suite's `detection.evaluation.evaluate`, timed with
the ground truth loaded per call and loaded once (as `MAECocoMetric` holds it during a run). Prints both
timings (median of 3), the ratios, and whether all 12 stats agree.
Example: python benchmarks/coco_eval_speed.py --images 400
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mae_backbone.runtime.cpu import cpu_description  # noqa: E402


def jittered_detections(gt: dict, rng: np.random.Generator, per_image_fp: int = 5) -> list[dict]:
    from pycocotools import mask as mask_utils
    from scipy import ndimage

    by_id = {im["id"]: im for im in gt["images"]}
    cats = [c["id"] for c in gt["categories"]]
    dets = []
    for ann in gt["annotations"]:
        if rng.random() < 0.1:
            continue
        im = by_id[ann["image_id"]]
        h, w = im["height"], im["width"]
        seg = ann["segmentation"]
        rle = (
            mask_utils.frPyObjects(seg, h, w)
            if isinstance(seg, dict)
            else mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
        )
        m = mask_utils.decode(rle).astype(bool)
        m = ndimage.binary_dilation(m) if rng.random() < 0.5 else ndimage.binary_erosion(m)
        m = np.roll(m, tuple(rng.integers(-2, 3, 2)), axis=(0, 1))
        enc = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        enc["counts"] = enc["counts"].decode("ascii")
        x, y, bw, bh = ann["bbox"]
        s = rng.uniform(0.9, 1.1)
        dets.append(
            {
                "image_id": ann["image_id"],
                "category_id": ann["category_id"],
                "segmentation": enc,
                "bbox": [x + rng.normal(0, 2), y + rng.normal(0, 2), bw * s, bh * s],
                "score": float(rng.uniform(0.3, 1.0)),
            }
        )
    for im in gt["images"]:
        for _ in range(per_image_fp):
            x, y = rng.uniform(0, im["width"] - 20), rng.uniform(0, im["height"] - 20)
            m = np.zeros((im["height"], im["width"]), np.uint8)
            m[int(y) : int(y) + 16, int(x) : int(x) + 16] = 1
            enc = mask_utils.encode(np.asfortranarray(m))
            enc["counts"] = enc["counts"].decode("ascii")
            dets.append(
                {
                    "image_id": im["id"],
                    "category_id": int(rng.choice(cats)),
                    "segmentation": enc,
                    "bbox": [x, y, 16.0, 16.0],
                    "score": float(rng.uniform(0, 0.5)),
                }
            )
    return dets


def timed(
    evaluator: str, gt_file: str, dets: list[dict], iou_type: str, gt=None, runs: int = 3
) -> tuple[list[float], float]:
    """The 12 stats and median seconds of `detection.evaluation.evaluate` (the suite's own code path)."""
    from detection.evaluation import STAT_NAMES, evaluate

    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        stats, _ = evaluate(gt_file, dets, iou_type, evaluator, gt=gt)
        times.append(time.perf_counter() - t0)
    return [stats[k] for k in STAT_NAMES], sorted(times)[runs // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--coco-json", default=None, help="a COCO instances file (default: the demo world's)")
    ap.add_argument("--repeat", type=int, default=8, help="tile the demo val images this many times")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "coco_eval_speed.json"))
    args = ap.parse_args()
    if args.coco_json:
        gt = json.loads(Path(args.coco_json).read_text())
    else:
        from tools.demo_world import generate_cached

        world = generate_cached(Path(tempfile.gettempdir()) / "maebench_bench_world", size="small")
        gt = json.loads((Path(world["coco"]) / "annotations" / "instances_train2017.json").read_text())
    # tile the images to reach a few thousand instances (ids offset per copy)
    images, anns = [], []
    for r in range(args.repeat):
        images += [{**im, "id": im["id"] + r * 100000} for im in gt["images"]]
        anns += [{**a, "id": a["id"] + r * 1000000, "image_id": a["image_id"] + r * 100000} for a in gt["annotations"]]
    gt = {**gt, "images": images, "annotations": anns}
    dets = jittered_detections(gt, np.random.default_rng(0))
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(gt, f)
    rows = []
    print(f"{len(images)} images, {len(anns)} ground-truth instances, {len(dets)} detections")
    from detection.evaluation import load_gt

    loaded = {ev: load_gt(f.name, ev) for ev in ("reference", "fast")}  # as the metric holds it during a run
    for iou_type in ("bbox", "segm"):
        ref, t_ref = timed("reference", f.name, dets, iou_type)
        fast, t_fast = timed("fast", f.name, dets, iou_type)
        _, t_ref_loaded = timed("reference", f.name, dets, iou_type, loaded["reference"])
        fast_loaded, t_fast_loaded = timed("fast", f.name, dets, iou_type, loaded["fast"])
        agree = bool(np.allclose(ref, fast, atol=1e-12)) and fast_loaded == fast
        rows.append(
            dict(
                iou_type=iou_type,
                pycocotools_s=t_ref,
                faster_coco_eval_s=t_fast,
                ratio=t_ref / t_fast,
                pycocotools_loaded_gt_s=t_ref_loaded,
                faster_coco_eval_loaded_gt_s=t_fast_loaded,
                ratio_loaded_gt=t_ref_loaded / t_fast_loaded,
                stats_agree=agree,
                max_abs_diff=float(np.max(np.abs(np.array(ref) - np.array(fast)))),
                AP=ref[0],
            )
        )
        print(
            f"{iou_type}: pycocotools {t_ref:.2f} s, faster-coco-eval {t_fast:.2f} s -> {t_ref / t_fast:.1f}x "
            f"(ground truth loaded once, as during a run: {t_ref_loaded:.2f} vs {t_fast_loaded:.2f} s -> "
            f"{t_ref_loaded / t_fast_loaded:.1f}x); 12 stats agree: {agree} "
            f"(max |diff| {rows[-1]['max_abs_diff']:.1e}); AP {ref[0]:.3f}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "images": len(images),
                "instances": len(anns),
                "detections": len(dets),
                "machine": cpu_description(),
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
