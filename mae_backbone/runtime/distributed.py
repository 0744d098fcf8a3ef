"""Multi-process glue shared by the protocols: exact-once evaluation shards, torchrun on CPUs, the SyncBN choice.

- `ExactShardSampler` (registered in mmengine's `DATA_SAMPLERS`, so configs name it as
  `sampler=dict(type="ExactShardSampler")`): rank r takes the indices `r, r + world, ...` in order, nothing
  padded. mmengine's `DefaultSampler` pads the index list to a multiple of the world size (round_up) and
  relies on `collect_results` cutting the gathered list back to the dataset size; with this sampler no
  sample is computed twice and the cut removes nothing.
- `check_exact_once`: refuses gathered per-sample results unless they cover the dataset once each.
- `init_cpu_launch`: `--launcher pytorch` (torchrun's environment) on a machine without CUDA. mmengine's
  pytorch launcher calls `torch.cuda.set_device(LOCAL_RANK)` first, which fails there; the gloo group is
  started here from the same variables, and mmengine's runner then uses it (it initialises none when one exists).
- `cpu_model_wrapper_cfg`: the runner wraps with DDP(device_ids=[LOCAL_RANK]), which torch refuses for a CPU
  module; `CpuDistributedDataParallel` is mmengine's wrapper without device ids.
- `sync_bn`, `sync_bn_notice`: SyncBN only where it can run (several processes with CUDA); the one-line
  notice of which norm the built model uses and why.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Hashable, Iterable, Iterator, Sequence

import torch
from mmengine.dist import get_dist_info
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import DATA_SAMPLERS, MODEL_WRAPPERS
from torch.utils.data import Dataset, Sampler


@DATA_SAMPLERS.register_module(force=True)
class ExactShardSampler(Sampler[int]):
    """Indices `rank::world_size` in order: shards may differ in length by one; nothing is padded.

    Rank and world size are read when iterating (the runner initialises the process group after the
    dataloader config, and this sampler, are built). `seed` is accepted because mmengine's runner passes
    one to every sampler it builds; the order is fixed."""

    def __init__(self, dataset: Dataset, rank: int | None = None, world_size: int | None = None,
                 seed: int | None = None):
        self.size, self._rank, self._world = len(dataset), rank, world_size

    def _shard(self) -> range:
        rank, world = get_dist_info()
        rank = rank if self._rank is None else self._rank
        world = world if self._world is None else self._world
        return range(rank, self.size, world)

    def __iter__(self) -> Iterator[int]:
        return iter(self._shard())

    def __len__(self) -> int:
        return len(self._shard())


def check_exact_once(ids: Sequence[Hashable], size: int, expected: Iterable[Hashable] | None = None,
                     what: str = "evaluation") -> None:
    """Raise unless `ids` (one per gathered result) name `size` distinct samples (exactly `expected`, if given)."""
    counts = Counter(ids)
    dup = sum(c - 1 for c in counts.values())
    missing = sorted(set(expected) - set(counts), key=str) if expected is not None else []
    if dup or len(ids) != size or missing:
        raise RuntimeError(
            f"{what} covered {len(counts)} of {size} samples with {dup} duplicates"
            + (f" and {len(missing)} missing (e.g. {missing[:3]})" if missing else "")
            + "; the sampler must shard by index without padding (ExactShardSampler)")


def init_cpu_launch(launcher: str) -> None:
    """Start the gloo process group from torchrun's variables when `launcher == "pytorch"` and CUDA is absent."""
    import torch.distributed as dist

    if launcher == "pytorch" and not torch.cuda.is_available() and not dist.is_initialized():
        dist.init_process_group("gloo", init_method="env://")


@MODEL_WRAPPERS.register_module(force=True)
class CpuDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's DDP wrapper for a model on the CPU (the runner's `device_ids=[LOCAL_RANK]` is dropped)."""

    def __init__(self, module: torch.nn.Module, device_ids: Any = None, **kwargs: Any):
        super().__init__(module=module, device_ids=None, **kwargs)


def cpu_model_wrapper_cfg() -> dict[str, Any] | None:
    """The runner's `model_wrapper_cfg`: None (mmengine's DDP) with CUDA; the CPU wrapper, same settings, without."""
    if torch.cuda.is_available():
        return None
    return dict(type="CpuDistributedDataParallel", broadcast_buffers=False, find_unused_parameters=False)


def sync_bn(world_size: int) -> str | None:
    """`cfg.sync_bn` for mmengine's runner: torch's SyncBatchNorm with several processes, where it runs (CUDA)."""
    return "torch" if world_size > 1 and torch.cuda.is_available() else None


def sync_bn_notice(model: torch.nn.Module, world_size: int) -> str:
    """One line: which batch norm the built (and wrapped) model uses, and why."""
    model = getattr(model, "module", model)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    synced = sum(isinstance(m, torch.nn.SyncBatchNorm) for m in norms)
    plain = len(norms) - synced
    if synced:
        return f"SyncBN on: {synced} BatchNorm layers synchronised across {world_size} processes (DDP)"
    if not plain:
        return "SyncBN not needed: the model has no BatchNorm layers"
    if world_size <= 1:
        return f"SyncBN off: single process; {plain} BatchNorm layers stay plain BN"
    if not torch.cuda.is_available():
        return (f"SyncBN needs CUDA; using plain BN under gloo ({plain} BatchNorm layers, statistics per "
                f"process over {world_size} processes)")
    return f"SyncBN off: {plain} BatchNorm layers stay plain BN"
