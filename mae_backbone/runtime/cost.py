"""The cost of every number: what a run took, recorded in its metrics.json under `cost`.

- wall time and device-seconds: GPU-seconds summed over processes on GPUs (each process holds its GPU for the
  whole run), CPU-seconds (user + system, with data-loader workers) summed over processes on CPUs;
- images seen in training and training FLOPs, measured: `CostHook` runs the first training step of each process
  under `torch.utils.flop_counter.FlopCounterMode` (forward + backward, as counted by torch's FLOP registry; the
  optimizer step is not counted) and counts its images, times the schedule's iterations and the processes;
- peak memory: host RSS of the process (VmHWM) and, on a GPU, torch's peak allocated memory.

`measure(run)` wraps a task's `run(cfg)` (mae_backbone.runtime.task) and adds the block to the metrics.json the
run wrote; inference-only tasks (kNN, robustness, --eval-only) have no training fields.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..fileio import atomic_write_json

TRAINING_FILE = "train_cost.json"  # what CostHook measured, read by `measure` (rank 0)
METHOD = "torch.utils.flop_counter.FlopCounterMode on the first training step (forward + backward), x iterations"


def batch_images(batch: Any) -> int:
    """Images in a data batch: mmengine's dict(inputs=...) or a (images, labels) pair, tensors or lists."""
    if isinstance(batch, dict):
        batch = batch.get("inputs", next(iter(batch.values()), None))
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], torch.Tensor) and batch[0].ndim == 4:
        return int(batch[0].shape[0])  # (images, labels)
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0])
    return len(batch) if isinstance(batch, (tuple, list)) else 0


@HOOKS.register_module()
class CostHook(Hook):
    """Measures one training step's FLOPs and images (the first of this process), then writes them."""

    priority = "LOWEST"

    def before_train(self, runner) -> None:
        self.flops, self.images = None, None
        model = runner.model
        step = model.train_step  # the bound method; the instance attribute below shadows it for one call

        def counted_step(data, optim_wrapper):
            from torch.utils.flop_counter import FlopCounterMode

            del model.train_step  # once: every later step runs the class's own method directly
            counter = FlopCounterMode(display=False)
            with counter:
                out = step(data, optim_wrapper)
            self.flops, self.images = int(counter.get_total_flops()), batch_images(data)
            return out

        model.train_step = counted_step

    def after_train(self, runner) -> None:
        if self.flops is None:
            return  # resumed at the end: no step ran
        world = runner.world_size
        iters = runner.max_iters
        if runner.rank == 0:
            atomic_write_json(
                Path(runner.work_dir) / TRAINING_FILE,
                {
                    "train_images": self.images * world * iters,
                    "train_flops": self.flops * world * iters,
                    "flops_per_step_per_process": self.flops,
                    "images_per_step_per_process": self.images,
                    "iterations": iters,
                    "flops_method": METHOD,
                },
            )


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and its finished children (data-loader workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def peak_rss_mib() -> float:
    """Peak resident memory of this process (VmHWM; since its start or the last reset), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _sum_over_processes(value: float) -> tuple[float, int]:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value, 1
    t = torch.tensor([value], dtype=torch.float64, device="cuda" if torch.cuda.is_available() else "cpu")
    dist.all_reduce(t)
    return float(t.item()), dist.get_world_size()


def measure(run: Callable[[dict[str, Any]], dict[str, Any]], cfg: dict[str, Any]) -> dict[str, Any]:
    """`run(cfg)`, then its cost added to `<work_dir>/metrics.json` (rank 0) and to the returned metrics."""
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0, c0 = time.perf_counter(), cpu_seconds()
    (Path(cfg["work_dir"]) / TRAINING_FILE).unlink(missing_ok=True)
    metrics = run(cfg)
    wall = time.perf_counter() - t0
    cpu, world = _sum_over_processes(cpu_seconds() - c0)
    cost: dict[str, Any] = dict(
        wall_seconds=round(wall, 2),
        processes=world,
        device="cuda" if cuda else "cpu",
        device_seconds=round(wall * world if cuda else cpu, 2),
        peak_rss_mib=peak_rss_mib(),
        peak_gpu_mib=round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None,
    )
    work_dir = Path(cfg["work_dir"])
    training = work_dir / TRAINING_FILE
    if training.is_file():
        cost.update(json.loads(training.read_text()))
    record = work_dir / "metrics.json"
    from mmengine.dist import get_rank

    if get_rank() == 0 and record.is_file():
        data = json.loads(record.read_text())
        data["cost"] = cost
        atomic_write_json(record, data)
    return dict(metrics, cost=cost) if isinstance(metrics, dict) else metrics
