"""Multi-process glue shared by the protocols: exact-once evaluation shards, torchrun on CPUs, the SyncBN choice.

- `ExactShardSampler` (registered in mmengine's `DATA_SAMPLERS`, so configs name it as
  `sampler=dict(type="ExactShardSampler")`): rank r takes the indices `r, r + world, ...` in order, nothing
  padded. mmengine's `DefaultSampler` pads the index list to a multiple of the world size (round_up) and
  relies on `collect_results` cutting the gathered list back to the dataset size; with this sampler no
  sample is computed twice and the cut removes nothing.
- `check_exact_once`: refuses gathered per-sample results unless they cover the dataset once each.
- `init_cpu_launch`: `--launcher pytorch` (torchrun's environment) or `--launcher slurm` (inside a Slurm job)
  on a machine without CUDA. mmengine's launchers call `torch.cuda.set_device(LOCAL_RANK)` first, which fails
  there (its slurm launcher also divides by `torch.cuda.device_count()` when SLURM_LOCALID is unset); the gloo
  group is started here from the same variables (for Slurm: SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID become
  RANK / WORLD_SIZE / LOCAL_RANK, as mmengine's slurm launcher exports them), and mmengine's runner then uses
  it (it initialises none when one exists).
- `launch_world_size`: the number of processes a launch will have, read before the runner exists (the batch
  plan needs it): the process group's size once one exists, else the launcher's variables.
- `prepare_launch`: the one call each command makes before building its runner: the CPU group where
  needed, the world size, and the runner-cfg entries (`model_wrapper_cfg`) that go with it.
- `cpu_model_wrapper_cfg`: the runner wraps with DDP(device_ids=[LOCAL_RANK]), which torch refuses for a CPU
  module; `CpuDistributedDataParallel` is mmengine's wrapper without device ids.
- `sync_bn`, `sync_bn_notice`: SyncBN only where it can run (several processes with CUDA); the one-line
  notice of which norm the built model uses and why.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import Any

import torch
import torch.distributed as dist
from mmengine.dist import get_dist_info
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import DATA_SAMPLERS, MODEL_WRAPPERS
from torch.utils.data import Dataset, Sampler

from ..errors import UserFacingError


@DATA_SAMPLERS.register_module()
class ExactShardSampler(Sampler[int]):
    """Indices `rank::world_size` in order: shards may differ in length by one; nothing is padded.

    Rank and world size are read when iterating (the runner initialises the process group after the
    dataloader config, and this sampler, are built). `seed` is accepted because mmengine's runner passes
    one to every sampler it builds; the order is fixed."""

    def __init__(
        self, dataset: Dataset, rank: int | None = None, world_size: int | None = None, seed: int | None = None
    ):
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


def check_exact_once(
    ids: Sequence[Hashable], size: int, expected: Iterable[Hashable] | None = None, what: str = "evaluation"
) -> None:
    """Raise unless `ids` (one per gathered result) name `size` distinct samples (exactly `expected`, if given)."""
    counts = Counter(ids)
    dup = sum(c - 1 for c in counts.values())
    missing = sorted(set(expected) - set(counts), key=str) if expected is not None else []
    if dup or len(ids) != size or missing:
        raise RuntimeError(
            f"{what} covered {len(counts)} of {size} samples with {dup} duplicates"
            + (f" and {len(missing)} missing (e.g. {missing[:3]})" if missing else "")
            + "; the sampler must shard by index without padding (ExactShardSampler)"
        )


def init_cpu_launch(launcher: str) -> None:
    """Start the gloo process group when `launcher` is "pytorch" (torchrun's variables) or "slurm" (the
    SLURM_* variables of a job step) and CUDA is absent; otherwise leave the launch to mmengine's runner."""
    if launcher not in ("pytorch", "slurm") or torch.cuda.is_available() or dist.is_initialized():
        return
    if launcher == "slurm":
        _export_slurm_env()
    dist.init_process_group("gloo", init_method="env://")


def _export_slurm_env() -> None:
    """torch's env:// variables from a Slurm job step's, as mmengine's slurm launcher sets them: MASTER_ADDR
    kept if set (else the first host of SLURM_NODELIST), MASTER_PORT kept if set (else 29500)."""
    env = os.environ
    missing = [k for k in ("SLURM_PROCID", "SLURM_NTASKS") if k not in env]
    if missing:
        raise UserFacingError(
            f"--launcher slurm outside a Slurm job step: {', '.join(missing)} not set "
            "(run it under srun, or without --launcher slurm to submit with submitit)"
        )
    if "MASTER_ADDR" not in env:
        env["MASTER_ADDR"] = _first_slurm_host(env.get("SLURM_NODELIST", ""))
    env.setdefault("MASTER_PORT", "29500")
    env.update(RANK=env["SLURM_PROCID"], WORLD_SIZE=env["SLURM_NTASKS"], LOCAL_RANK=env.get("SLURM_LOCALID", "0"))


def _first_slurm_host(nodelist: str) -> str:
    out: list[str] = []
    if nodelist:
        try:
            out = subprocess.run(
                ["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=True
            ).stdout.split()
        except (OSError, subprocess.CalledProcessError):
            pass
    if not out:
        raise UserFacingError(
            f"--launcher slurm: MASTER_ADDR is not set and `scontrol show hostnames "
            f"{nodelist or '$SLURM_NODELIST'}` gave no host; export MASTER_ADDR (the first node)"
        )
    return out[0]


def launch_world_size(launcher: str) -> int:
    """How many processes the launch has: the process group's size if one exists, else WORLD_SIZE (pytorch) or
    SLURM_NTASKS (slurm; mmengine's slurm launcher overwrites WORLD_SIZE with it), else 1."""
    if launcher == "none" or dist.is_initialized():
        return get_dist_info()[1]
    return int(os.environ.get("SLURM_NTASKS" if launcher == "slurm" else "WORLD_SIZE", 1))


def prepare_launch(launcher: str) -> tuple[int, dict[str, Any]]:
    """Call once before building the runner: starts the CPU process group where mmengine cannot
    (`init_cpu_launch`), and returns the world size and the entries to add to the runner's `cfg`
    (the DDP wrapper without device ids when there is no CUDA)."""
    init_cpu_launch(launcher)
    wrapper = cpu_model_wrapper_cfg()
    return launch_world_size(launcher), ({"model_wrapper_cfg": wrapper} if wrapper else {})


@MODEL_WRAPPERS.register_module()
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
        return (
            f"SyncBN needs CUDA; using plain BN under gloo ({plain} BatchNorm layers, statistics per "
            f"process over {world_size} processes)"
        )
    return f"SyncBN off: {plain} BatchNorm layers stay plain BN"
