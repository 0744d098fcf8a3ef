"""What makes two numbers comparable: dataset fingerprint, test mode, evaluator (+ version), seed, world size.

Task packages store their protocol as nested dicts with their own key names; this module finds the few
fields that decide comparability wherever they sit, and says which ones a record lacks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# field -> keys that hold it anywhere in a task's protocol dict (first found wins)
FIELDS: dict[str, tuple[str, ...]] = {
    "fingerprint": ("sha256", "fingerprint"),
    "num_files": ("num_files",),
    "evaluator_version": ("evaluator_version", "backend_version"),
}
# top-level protocol keys that together are the test mode: how the evaluated images are presented
# (segmentation: `test` = slide/whole, crop, stride; classification: input size, resize, crop; robustness:
# transform and label space)
TEST_KEYS = ("test_mode", "test", "input_size", "eval_resize", "eval_crop_pct", "max_dets", "transform", "label_space")
EVALUATOR_PACKAGES = {
    "mmseg": "mmsegmentation",
    "mmdet": "mmdet",
    "pycocotools": "pycocotools",
    "faster": "faster-coco-eval",
    "faster-coco-eval": "faster-coco-eval",
}
REQUIRED = ("fingerprint", "test_mode", "evaluator")  # without these a number is not comparable to anything
NEEDS_FOR = {"pretrain": ("fingerprint",)}  # pre-training has no test mode or evaluator


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield f"{path}{k}", v
            yield from _walk(v, f"{path}{k}.")


def _find(protocol: dict[str, Any], keys: tuple[str, ...]) -> Any:
    items = list(_walk(protocol))
    for key in keys:
        for path, value in items:
            if path.rsplit(".", 1)[-1] == key and not isinstance(value, (dict, list)):
                return value
    return None


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_compact(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "x".join(map(str, value)) if all(isinstance(v, int) for v in value) else str(list(value))
    return str(value)


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """The comparability fields of one metrics.json, plus `missing`: the required ones it lacks."""
    protocol = record.get("protocol")
    protocol = protocol if isinstance(protocol, dict) else {}
    out = {name: _find(protocol, keys) for name, keys in FIELDS.items()}
    test = [f"{k}={_compact(protocol[k])}" for k in TEST_KEYS if protocol.get(k) not in (None, "", {})]
    out["test_mode"] = "; ".join(test) or None
    evaluator = protocol.get("evaluator") or protocol.get("backend")
    if isinstance(evaluator, dict):  # e.g. detection: {"evaluator": "fast", "name": "faster-coco-eval", "version": ..}
        out["evaluator_version"] = evaluator.get("version")
        evaluator = evaluator.get("name") or evaluator.get("evaluator")
    out["evaluator"] = _compact(evaluator) if evaluator else None
    versions = record.get("versions") or {}
    if out["evaluator"] and not out["evaluator_version"]:  # the installed version of the package that evaluated
        first = out["evaluator"].split()[0].lower()
        package = EVALUATOR_PACKAGES.get(first)
        package = package or "maebench"  # our own evaluator (e.g. classification's exact-once top-k)
        out["evaluator_version"] = f"{package} {versions.get(package)}"
    out["seed"], out["world_size"] = record.get("seed"), record.get("world_size")
    low_shot = protocol.get("low_shot")
    out["low_shot"] = low_shot if isinstance(low_shot, dict) else None
    required = NEEDS_FOR.get(str(record.get("task")), REQUIRED)
    out["missing"] = [k for k in required if out[k] in (None, "")] if protocol else ["protocol"]
    return out


def describe(s: dict[str, Any]) -> str:
    """One line for the report's protocol list."""
    fp = f"{s['fingerprint']} ({s['num_files']} files)" if s["fingerprint"] else "-"
    ev = f"{s['evaluator']} ({s['evaluator_version'] or 'version unknown'})" if s["evaluator"] else "-"
    text = (
        f"data {fp}; test mode {s['test_mode'] or '-'}; evaluator {ev}; seed {s['seed']}; world size {s['world_size']}"
    )
    if s.get("low_shot"):
        text += "; " + low_shot_text(s["low_shot"])
    return text + (f"; **missing: {', '.join(s['missing'])}**" if s["missing"] else "")


def low_shot_text(subset: dict[str, Any]) -> str:
    """`low-shot subset: fraction 0.1, seed 0, 6 of 36 images (1-1 per class), list sha256 6582...`: what
    classification/datasets.py records of a training subset (the digest covers its train_subset.txt)."""
    how = {
        "fraction": f"fraction {subset.get('fraction')}",
        "shots": f"{subset.get('shots')} shots per class",
        "file": f"file {subset.get('subset_file')}",
    }.get(str(subset.get("mode")), str(subset.get("mode")))
    seed = f", seed {subset['seed']}" if subset.get("seed") is not None else ""
    return (
        f"low-shot subset: {how}{seed}, {subset.get('num_images')} of {subset.get('of_images')} images "
        f"({subset.get('per_class_min')}-{subset.get('per_class_max')} per class), list "
        f"{subset.get('list_file', 'train_subset.txt')} sha256 {subset.get('sha256')}"
    )


def training_files(record: dict[str, Any]) -> str | None:
    """`36 files, sha256 5ead...`: the fingerprint of the images a classification run trained on, if recorded."""
    dataset = (record.get("protocol") or {}).get("dataset")
    train = dataset.get("train") if isinstance(dataset, dict) else None
    if not isinstance(train, dict) or not train.get("sha256"):
        return None
    return f"{train.get('num_files')} files, sha256 {train['sha256']}"


def comparable(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Why two numbers of the same column cannot be compared (empty list: they can)."""
    reasons = []
    for side, s in (("first", a), ("second", b)):
        if s["missing"]:
            reasons.append(f"{side} lacks {', '.join(s['missing'])}")
    if reasons:
        return reasons
    if a["fingerprint"] != b["fingerprint"]:
        reasons.append(f"different data ({a['fingerprint']} vs {b['fingerprint']})")
    if a["test_mode"] != b["test_mode"]:
        reasons.append(f"different test modes ({a['test_mode']} vs {b['test_mode']})")
    subsets = [(s.get("low_shot") or {}).get("sha256") for s in (a, b)]
    if subsets[0] != subsets[1]:  # same validation images, different labelled training images
        reasons.append(f"different low-shot subsets ({subsets[0] or 'all labels'} vs {subsets[1] or 'all labels'})")
    if (a["evaluator"], a["evaluator_version"]) != (b["evaluator"], b["evaluator_version"]):
        reasons.append(
            f"different evaluators ({a['evaluator']} {a['evaluator_version']} vs "
            f"{b['evaluator']} {b['evaluator_version']})"
        )
    return reasons
