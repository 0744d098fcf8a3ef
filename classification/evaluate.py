"""Exact-once evaluation: every sample is scored exactly once, whatever the number of processes.

A padded `DistributedSampler` repeats samples to equalise shards, which biases accuracy whenever the
dataset size is not a multiple of the world size (official MAE `--dist_eval`, pain E11); mmengine's
`collect_results` zips shards, which assumes equal shard lengths. Here each rank takes the indices
`rank, rank + world, ...` without padding, every result carries its dataset index, and the gathered
results are checked to cover `0..N-1` exactly once before any number is computed.

With `outcomes_file`, rank 0 also saves the per-image outcomes (correct@1, correct@k, predicted class, label,
by dataset index) that `maebench report` bootstraps its intervals from (mae_backbone/runtime/metric_keys.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank
from mmengine.evaluator import BaseMetric
from torch.utils.data import DataLoader, Dataset

from mae_backbone.runtime import metric_keys as keys

# ExactShardSampler is shared with detection and segmentation
from mae_backbone.runtime.distributed import ExactShardSampler


class ClassificationMetric(BaseMetric):
    """Top-1 / top-5 / per-class accuracy over exactly the dataset's samples.

    Args:
        classes: class names in label order (for the per-class table).
        valid_indices: restrict the logits to these columns before the top-k (ImageNet-A/R's 200 of 1000
            classes); labels are then positions in this list.
        outcomes_file: where rank 0 writes the per-image outcomes of each evaluation (None: nowhere);
            `outcome_arrays()` gives them for a caller that writes several metrics into one file.
    """

    default_prefix = "cls"  # unused: evaluate() returns plain names; set to silence mmengine's warning

    def __init__(
        self,
        classes: Sequence[str],
        valid_indices: Sequence[int] | None = None,
        topk: int = 5,
        outcomes_file: str | Path | None = None,
    ):
        super().__init__()
        self.classes = list(classes)
        self.valid = torch.as_tensor(list(valid_indices)) if valid_indices is not None else None
        self.topk = topk
        self.outcomes_file = outcomes_file
        self.last: dict[str, Any] | None = None
        self.outcomes: dict[str, np.ndarray] = {}

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
            raise RuntimeError(
                f"evaluation covered {len(set(seen))} of {size} samples with {dup} duplicates; "
                "the sampler must shard by index without padding (ExactShardSampler)"
            )
        merged.sort()
        self.last = self.compute_metrics(merged)
        self.outcomes = self._outcomes(merged)
        if self.outcomes_file is not None and get_rank() == 0:
            keys.write_outcomes(self.outcomes_file, self.outcome_arrays())
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
            keys.TOP1: 100.0 * sum(correct1) / n,
            self._topk_key: 100.0 * sum(correct5) / n,
            keys.MEAN_CLASS_ACC: sum(present) / len(present),
            keys.NUM_SAMPLES: n,
            "per_class": [
                {"class": c, "acc": a, "count": t} for c, a, t in zip(self.classes, per_class, per_class_total)
            ],
        }

    @property
    def _topk_key(self) -> str:
        return keys.TOP5 if min(self.topk, len(self.classes)) == 5 else f"top{min(self.topk, len(self.classes))}"

    def _outcomes(self, results: list) -> dict[str, np.ndarray]:
        """Per-image outcomes in dataset-index order (results are sorted and cover 0..N-1 once)."""
        label = np.array([lab for _, lab, _ in results], dtype=np.int32)
        return dict(
            index=np.array([i for i, _, _ in results], dtype=np.int64),
            label=label,
            pred=np.array([t[0] for _, _, t in results], dtype=np.int32),
            correct1=np.array([t[0] == lab for _, lab, t in results], dtype=np.uint8),
            correctk=np.array([lab in t for _, lab, t in results], dtype=np.uint8),
        )

    def outcome_arrays(self, top1_key: str = keys.TOP1, topk_key: str | None = None) -> dict[str, np.ndarray]:
        """The last evaluation's outcomes as named .npz arrays (metric_keys): `top1_key/hit`, `topk_key/hit`,
        predictions, labels and the dataset indices. Robustness passes `in_a_top1` etc. to keep several sets
        in one file; each set's indices are then its own (`in_a_top1/images`), not the file's `images`."""
        o, prefix = self.outcomes, top1_key.removesuffix(keys.TOP1)
        topk_key = topk_key or prefix + self._topk_key
        own = top1_key != keys.TOP1
        images = (
            {keys.outcome(k, keys.IMAGES): o["index"] for k in (top1_key, topk_key)}
            if own
            else {keys.IMAGES: o["index"]}
        )
        return {
            **images,
            keys.outcome(top1_key, "hit"): o["correct1"],
            keys.outcome(topk_key, "hit"): o["correctk"],
            keys.outcome(top1_key, "pred"): o["pred"],
            keys.outcome(top1_key, "label"): o["label"],
        }


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    dataset: Dataset,
    metric: ClassificationMetric,
    batch_size: int = 64,
    num_workers: int = 0,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Score `dataset` with `model` (a network returning logits, e.g. `load_classifier`'s) on this rank's shard,
    gather, and return the metric's full result (per-class list included)."""
    from torch.utils.data import default_collate

    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=ExactShardSampler(dataset),
        num_workers=num_workers,
        collate_fn=default_collate,
    )
    model.eval()
    for batch in loader:
        logits = model(batch["inputs"].to(device))
        metric.process(batch, [{"logits": logits, "label": batch["label"], "index": batch["index"]}])
    metric.evaluate(len(dataset))
    return metric.last


def per_class_csv(result: dict[str, Any]) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["class", "acc", "count"])
    for row in result["per_class"]:
        writer.writerow([row["class"], "" if row["acc"] is None else f"{row['acc']:.4f}", row["count"]])
    return buf.getvalue()
