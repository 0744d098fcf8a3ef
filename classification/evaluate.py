"""Exact-once evaluation: every sample is scored exactly once, whatever the number of processes.

A padded `DistributedSampler` repeats samples to equalise shards, which biases accuracy whenever the
dataset size is not a multiple of the world size (official MAE `--dist_eval`, pain E11); mmengine's
`collect_results` zips shards, which assumes equal shard lengths. Here each rank takes the indices
`rank, rank + world, ...` without padding, every result carries its dataset index, and the gathered
results are checked to cover `0..N-1` exactly once before any number is computed.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from mmengine.dist import all_gather_object
from mmengine.evaluator import BaseMetric
from torch.utils.data import DataLoader, Dataset

from mae_backbone.runtime.distributed import ExactShardSampler  # shared with detection and segmentation


class ClassificationMetric(BaseMetric):
    """Top-1 / top-5 / per-class accuracy over exactly the dataset's samples.

    Args:
        classes: class names in label order (for the per-class table).
        valid_indices: restrict the logits to these columns before the top-k (ImageNet-A/R's 200 of 1000
            classes); labels are then positions in this list.
    """

    default_prefix = "cls"  # unused: evaluate() returns plain names; set to silence mmengine's warning

    def __init__(self, classes: Sequence[str], valid_indices: Sequence[int] | None = None, topk: int = 5):
        super().__init__()
        self.classes = list(classes)
        self.valid = torch.as_tensor(list(valid_indices)) if valid_indices is not None else None
        self.topk = topk
        self.last: dict[str, Any] | None = None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for out in data_samples:
            logits = out["logits"].detach().float().cpu()
            if self.valid is not None:
                logits = logits[:, self.valid]
            k = min(self.topk, logits.shape[1])
            top = logits.topk(k, dim=1).indices
            for i, lab, t in zip(out["index"].tolist(), out["label"].tolist(), top.tolist()):
                self.results.append((int(i), int(lab), t))

    def evaluate(self, size: int) -> dict[str, Any]:
        gathered = all_gather_object(list(self.results))  # one entry per rank ([a copy of ours] if alone)
        self.results.clear()
        merged = [r for part in gathered for r in part]
        seen = sorted(r[0] for r in merged)
        if seen != list(range(size)):
            dup = len(seen) - len(set(seen))
            raise RuntimeError(f"evaluation covered {len(set(seen))} of {size} samples with {dup} duplicates; "
                               "the sampler must shard by index without padding (ExactShardSampler)")
        self.last = self.compute_metrics(sorted(merged))
        return {k: v for k, v in self.last.items() if not isinstance(v, (list, dict))}

    def compute_metrics(self, results: list) -> dict[str, Any]:
        n = len(results)
        correct1 = [t[0] == lab for _, lab, t in results]
        correct5 = [lab in t for _, lab, t in results]
        per_class_total = [0] * len(self.classes)
        per_class_hit = [0] * len(self.classes)
        for (_, lab, _), hit in zip(results, correct1):
            per_class_total[lab] += 1
            per_class_hit[lab] += int(hit)
        per_class = [100.0 * h / t if t else None for h, t in zip(per_class_hit, per_class_total)]
        present = [a for a in per_class if a is not None]
        return {
            "top1": 100.0 * sum(correct1) / n,
            f"top{min(self.topk, len(self.classes))}": 100.0 * sum(correct5) / n,
            "mean_class_acc": sum(present) / len(present),
            "num_samples": n,
            "per_class": [{"class": c, "acc": a, "count": t}
                          for c, a, t in zip(self.classes, per_class, per_class_total)],
        }


@torch.no_grad()
def predict(model: torch.nn.Module, dataset: Dataset, metric: ClassificationMetric, batch_size: int = 64,
            num_workers: int = 0, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Score `dataset` with `model` (a `Classifier` or any module returning logits) on this rank's shard,
    gather, and return the metric's full result (per-class list included)."""
    from torch.utils.data import default_collate

    loader = DataLoader(dataset, batch_size=batch_size, sampler=ExactShardSampler(dataset),
                        num_workers=num_workers, collate_fn=default_collate)
    model.eval()
    for batch in loader:
        logits = model(batch["inputs"].to(device), mode="predict")[0]["logits"] if _is_classifier(model) \
            else model(batch["inputs"].to(device))
        metric.process(batch, [{"logits": logits, "label": batch["label"], "index": batch["index"]}])
    metric.evaluate(len(dataset))
    return metric.last


def _is_classifier(model: torch.nn.Module) -> bool:
    from .model import Classifier

    return isinstance(model, Classifier)


def per_class_csv(result: dict[str, Any]) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["class", "acc", "count"])
    for row in result["per_class"]:
        writer.writerow([row["class"], "" if row["acc"] is None else f"{row['acc']:.4f}", row["count"]])
    return buf.getvalue()
