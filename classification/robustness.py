"""Robustness evaluation of a fine-tuned classifier, inference only (paper appendix C, Table 13).

- ImageNet-A / -R: the 1000-way logits restricted to their 200 classes *before* the top-k (official
  eval.py of both sets, timm validate.py --valid-labels). The index lists are read from the installed
  timm (`timm/data/_info`) and checked against sha256 values recorded here; the dataset's wnid folders
  must be exactly the classes the list selects. Non-ImageNet classifiers (the demo world) take their
  subset from `imagenet_{a,r}_indices.txt` next to the data, validated the same way.
- ImageNet-Sketch: all classes, no mask.
- A / R / Sketch are resized (short side to size / crop_pct) and centre-cropped as ImageNet val, with a named
  `interpolation`: "bicubic" (default, MAE's own evaluation, util/datasets.py) or "bilinear" (hendrycks'
  eval.py of IN-A and IN-R: Resize(256) + CenterCrop(224)). The record's protocol says which.
- ImageNet-C: 15 corruptions x 5 severities, images fed as released (no resize, no crop: they are
  already cropped), mean Corruption Error normalised per corruption by AlexNet's errors (augmix
  ALEXNET_ERR, from hendrycks/robustness), plus the unnormalised mean error and every per-corruption /
  per-severity error, each labelled (pain E1, E2). A model input larger than the released 224 px (the
  paper's ViT-H448 column) gets the images upsampled, `c_upsample="bicubic"` by default (the paper does not
  say how; bicubic is the interpolation of every other MAE evaluation); `c_upsample=None` refuses any size
  mismatch instead. The record says the images' size and the upsampling.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dataformats.robustness import BENCHMARK_CORRUPTIONS as CORRUPTIONS  # the one list, shared with the validator
from dataformats.robustness import EXTRA_CORRUPTIONS as HELD_OUT_CORRUPTIONS  # not part of mCE
from mae_backbone.errors import BadInputError

from .datasets import LabelledImages, image_folder
from .evaluate import ClassificationMetric, predict
from .imagenet import imagenet_classes, timm_info
from .transforms import ExactSize, eval_transform

SEVERITIES = (1, 2, 3, 4, 5)
# Severity-averaged AlexNet top-1 errors (google-research/augmix imagenet.py, "taken from hendrycks/robustness").
ALEXNET_ERR = {
    "gaussian_noise": 0.886428,
    "shot_noise": 0.894468,
    "impulse_noise": 0.922640,
    "defocus_blur": 0.819880,
    "glass_blur": 0.826268,
    "motion_blur": 0.785948,
    "zoom_blur": 0.798360,
    "snow": 0.866816,
    "frost": 0.826572,
    "fog": 0.819324,
    "brightness": 0.564592,
    "contrast": 0.853204,
    "elastic_transform": 0.646056,
    "pixelate": 0.717840,
    "jpeg_compression": 0.606500,
}
CORRUPTION_TABLE = "robustness_table.md"  # IN-C per corruption and severity, beside metrics.json
NAMES = {"a": "IN-Adversarial", "r": "IN-Rendition", "sketch": "IN-Sketch", "c": "IN-Corruption"}


def subset_indices(name: str, classes: Sequence[str], index_dir: Path | None) -> list[int]:
    """Ascending indices into `classes` of the A ('a') or R ('r') subset, checked."""
    fname = f"imagenet_{name}_indices.txt"
    local = index_dir / fname if index_dir is not None else None
    if len(classes) == 1000 and list(classes) == imagenet_classes():
        indices = [int(t) for t in timm_info(fname)]
        if local is not None and local.is_file() and [int(t) for t in local.read_text().split()] != indices:
            raise BadInputError(f"{local}: differs from the official ImageNet-{name.upper()} list; delete it")
        if len(indices) != 200:
            raise BadInputError(f"timm/data/_info/{fname}: {len(indices)} entries, expected 200")
    else:
        if local is None or not local.is_file():
            raise BadInputError(
                f"{local or fname}: missing; a classifier with {len(classes)} classes needs the "
                f"subset index file ({fname}: ascending class indices, one per line) next to the data"
            )
        indices = [int(t) for t in local.read_text().split()]
    if indices != sorted(set(indices)) or not indices or not 0 <= indices[0] <= indices[-1] < len(classes):
        raise BadInputError(f"{local or fname}: indices must be unique, ascending and within 0..{len(classes) - 1}")
    synsets = local.with_name(f"imagenet_{name}_synsets.txt") if local is not None else None
    if synsets is not None and synsets.is_file() and synsets.read_text().split() != [classes[i] for i in indices]:
        raise BadInputError(f"{synsets}: its wnids disagree with the indices into the classifier's classes")
    return indices


def mce(errors: dict[str, dict[int, float]]) -> dict[str, Any]:
    """mCE from top-1 errors (fractions) per corruption and severity.

    CE_c = 100 * mean_s err_{c,s} / AlexNet_c; mCE = mean of CE_c over the 15 benchmark corruptions.
    """
    missing = [c for c in CORRUPTIONS if c not in errors or set(errors[c]) != set(SEVERITIES)]
    if missing:
        raise BadInputError(f"mCE needs all 15 corruptions x 5 severities; incomplete: {', '.join(missing)}")
    mean_err = {c: sum(errors[c][s] for s in SEVERITIES) / len(SEVERITIES) for c in CORRUPTIONS}
    ce = {c: 100.0 * mean_err[c] / ALEXNET_ERR[c] for c in CORRUPTIONS}
    return {
        "mCE": sum(ce.values()) / len(ce),
        "mean_error_unnormalized": 100.0 * sum(mean_err.values()) / len(mean_err),
        "CE": ce,
        "error": {c: 100.0 * e for c, e in mean_err.items()},
        "error_by_severity": {c: {str(s): 100.0 * errors[c][s] for s in SEVERITIES} for c in CORRUPTIONS},
        "normalisation": "AlexNet severity-averaged errors (augmix ALEXNET_ERR, hendrycks/robustness)",
    }


def evaluate_subset(
    net: torch.nn.Module,
    root: Path,
    classes: list[str],
    indices: list[int] | None,
    transform,
    batch_size: int,
    num_workers: int,
    device: str = "cpu",
) -> dict[str, Any]:
    """A/R (with `indices`: 200-way masked logits, labels are positions in the subset) or Sketch (all)."""
    wanted = classes if indices is None else [classes[i] for i in indices]
    split = image_folder(root, "", wanted)  # folders must be exactly the wanted wnids
    metric = ClassificationMetric(wanted, valid_indices=indices)
    result = predict(net, LabelledImages(split, transform), metric, batch_size, num_workers, device)
    return {**result, "outcome_arrays": metric.outcome_arrays}  # per-image outcomes, saved by the caller


def c_input_policy(image_size: tuple[int, int], img_size: int, c_upsample: str | None) -> str:
    """How IN-C images of `image_size` (w, h) meet a model of `img_size`: as released, or upsampled; refused
    up front (naming the fix) when neither applies."""
    w, h = image_size
    if (w, h) == (img_size, img_size):
        return f"none: fed as released ({w} px), size checked"
    if c_upsample is not None and w == h and w < img_size:
        return f"{c_upsample} upsampling {w} -> {img_size} px (PIL), no crop"
    how = (
        "downsampling or cropping is not a protocol"
        if w == h and w > img_size
        else "non-square images cannot be upsampled"
        if c_upsample
        else "c_upsample=None refuses resizing"
    )
    raise BadInputError(
        f"IN-C images are {w}x{h}, the model's input is {img_size} px: {how}; evaluate at "
        f"{w} px, or upsample square images to a larger input with c_upsample='bicubic'"
    )


def evaluate_c(
    net: torch.nn.Module,
    root: Path,
    classes: list[str],
    img_size: int,
    batch_size: int,
    num_workers: int,
    device: str = "cpu",
    c_upsample: str | None = "bicubic",
) -> dict[str, Any]:
    root = Path(root)
    absent = [c for c in CORRUPTIONS if not (root / c).is_dir()]
    if absent:
        raise BadInputError(f"{root}: no folder for {', '.join(absent)}; ImageNet-C is <corruption>/<1..5>/<wnid>/")
    from dataformats import raise_if_problems, validate_imagenet_c

    raise_if_problems(validate_imagenet_c(root, class_index=list(classes)), what=str(root))
    errors: dict[str, dict[int, float]] = {}
    policy, names, wrong = None, None, {}  # wrong[c]: each image's errors summed over the severities
    for c in CORRUPTIONS:
        errors[c] = {}
        for s in SEVERITIES:
            split = image_folder(root / c, str(s), classes, subset_ok=True)  # wnids checked; may be a subset
            if policy is None:  # the released images share one size: decide (or refuse) before any inference
                from mae_backbone.images import load_rgb

                policy = c_input_policy(load_rgb(split.files[0]).size, img_size, c_upsample)
                print(f"IN-C input: {policy}")
            view = ExactSize(img_size, upsample=c_upsample)  # still checks every image
            metric = ClassificationMetric(classes)
            res = predict(net, LabelledImages(split, view), metric, batch_size, num_workers, device)
            errors[c][s] = 1.0 - res["top1"] / 100.0
            files = [f.relative_to(root / c / str(s)).as_posix() for f in split.files]
            names = files if names is None else names if names == files else []
            wrong[c] = wrong.get(c, 0) + (1 - metric.outcomes["correct1"].astype(float))
    out = mce(errors)
    if names:  # every set holds the same images: the mCE is the mean over images of each one's share
        out["per_image_mce"] = np.mean([wrong[c] / len(SEVERITIES) / ALEXNET_ERR[c] for c in CORRUPTIONS], axis=0)
    out["input"] = policy
    out["held_out_present_not_scored"] = [c for c in HELD_OUT_CORRUPTIONS if (root / c).is_dir()]
    return out


def corruption_table(c: dict[str, Any]) -> str:
    """IN-C per corruption: CE, mean error and the error at each severity (markdown). The four headline numbers
    of Table 13 are metrics.json's, and the table itself is the report's (`maebench report`)."""
    lines = [
        f"IN-C: mCE (AlexNet-normalised) {c['mCE']:.2f}; mean error (unnormalised) {c['mean_error_unnormalized']:.2f}",
        "",
        "| corruption | CE | mean error | " + " | ".join(f"sev {s}" for s in SEVERITIES) + " |",
        "|---|---|---|" + "---|" * len(SEVERITIES),
    ]
    for name in CORRUPTIONS:
        sev = " | ".join(f"{c['error_by_severity'][name][str(s)]:.1f}" for s in SEVERITIES)
        lines.append(f"| {name} | {c['CE'][name]:.1f} | {c['error'][name]:.1f} | {sev} |")
    return "\n".join(lines) + "\n"


def run_all(
    net: torch.nn.Module,
    sets: dict[str, Path],
    classes: list[str],
    img_size: int,
    index_dir: Path | None,
    batch_size: int = 64,
    num_workers: int = 0,
    device: str = "cpu",
    interpolation: str = "bicubic",
    c_upsample: str | None = "bicubic",
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    view = eval_transform(img_size, interpolation=interpolation)  # A/R/Sketch: resize + centre crop, as IN val
    for key, root in sets.items():
        if key in ("a", "r"):
            indices = subset_indices(key, classes, index_dir)
            results[key] = evaluate_subset(net, root, classes, indices, view, batch_size, num_workers, device)
        elif key == "sketch":
            results[key] = evaluate_subset(net, root, classes, None, view, batch_size, num_workers, device)
        elif key == "c":
            results[key] = evaluate_c(net, root, classes, img_size, batch_size, num_workers, device, c_upsample)
        else:
            raise BadInputError(f"unknown robustness set {key!r}; choose from a, r, sketch, c")
    return results


def evaluate_all_and_record(
    checkpoint: str,
    sets: dict[str, Path],
    work_dir: Path,
    index_dir: Path | None,
    arch: str | None = None,
    img_size: int | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    interpolation: str = "bicubic",
    c_upsample: str | None = "bicubic",
) -> dict[str, Any]:
    """Load the classifier, evaluate every set, write metrics.json + the IN-C breakdown's markdown (rank 0).

    `interpolation`: the A/R/Sketch resize ("bicubic" as MAE, "bilinear" as hendrycks' eval.py);
    `c_upsample`: how IN-C's 224 px images reach a larger input ("bicubic"; None refuses)."""
    from mmengine.dist import get_dist_info

    from mae_backbone.fileio import atomic_write_text
    from mae_backbone.runtime import metric_keys as keys
    from mae_backbone.runtime.records import dataset_fingerprint, write_metrics

    from .model import load_classifier

    net, classes, meta, report = load_classifier(checkpoint, arch, img_size)
    print(report.summary())
    size = img_size or meta.get("img_size", 224)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    eval_transform(size, interpolation=interpolation)  # an unknown interpolation name is refused before any work
    results = run_all(
        net.to(device), sets, classes, size, index_dir, batch_size, num_workers, device, interpolation, c_upsample
    )
    metrics: dict[str, Any] = {}
    for key, res in results.items():
        if key == "c":
            metrics.update(
                in_c_mce=res["mCE"],
                in_c_mean_error_unnormalized=res["mean_error_unnormalized"],
                in_c_ce=res["CE"],
                in_c_error=res["error"],
                in_c_error_by_severity=res["error_by_severity"],
            )
        else:
            metrics.update({f"in_{key}_top1": res["top1"], f"in_{key}_num_samples": res["num_samples"]})
            metrics.update({f"in_{key}_{k}": v for k, v in res.items() if k.startswith("top") and k != "top1"})
    rank, world = get_dist_info()
    if rank == 0:
        label_space = {
            "a": "200-class logit mask before top-k (imagenet_a_indices.txt)",
            "r": "200-class logit mask before top-k (imagenet_r_indices.txt)",
            "sketch": f"all {len(classes)} classes",
            "c": f"all {len(classes)} classes",
        }
        view = eval_transform(size, interpolation=interpolation).transforms[:2]
        transform = {"a/r/sketch": f"{view[0]} + {view[1]}"}
        if "c" in results:
            transform["c"] = results["c"]["input"]
        resize = {
            "bicubic": "bicubic (MAE's evaluation, util/datasets.py)",
            "bilinear": "bilinear (hendrycks' IN-A/IN-R eval.py)",
        }[interpolation]
        proto = dict(
            checkpoint=str(checkpoint),
            arch=meta["arch_name"],
            classifier_protocol=meta["protocol"],
            pooling=meta["global_pool"],
            input_size=size,
            num_classes=len(classes),
            label_space={k: label_space[k] for k in results},
            interpolation=resize,
            c_upsample=c_upsample,
            transform=transform,
            datasets={k: dataset_fingerprint(p) for k, p in sets.items()},
            index_lists={"official": "timm/data/_info, sha256 checked"}
            if len(classes) == 1000
            else {"local": str(index_dir)},
            evaluator="exact-once top-k (classification.evaluate)",
            load_report=report.to_dict(),
        )
        table = corruption_table(results["c"]) if "c" in results else None
        if table:
            atomic_write_text(work_dir / CORRUPTION_TABLE, table)
        outcomes = {
            k: v
            for key, res in results.items()
            if "outcome_arrays" in res
            for k, v in res["outcome_arrays"](keys.robustness_top1(key)).items()
        }
        if "per_image_mce" in results.get("c", {}):  # mCE = 100 x the mean of these (metric_keys: `hit`)
            share = results["c"]["per_image_mce"]
            outcomes.update(
                {
                    keys.outcome(keys.IN_C_MCE, "hit"): share,
                    keys.outcome(keys.IN_C_MCE, keys.IMAGES): np.arange(len(share)),
                }
            )
        if outcomes:  # per image, for the report's intervals
            keys.write_outcomes(work_dir / keys.OUTCOMES_FILE, outcomes)
        write_metrics(
            work_dir,
            metrics,
            protocol=proto,
            task="robustness",
            world_size=world,
            extra=dict(table_file=CORRUPTION_TABLE if table else None),
        )
        if table:
            print(table)
    return {k: v for k, v in metrics.items() if not isinstance(v, dict)}
