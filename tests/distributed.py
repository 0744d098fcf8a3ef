"""Multi-process test helpers: a free local port, and forked workers under torchrun's or a Slurm step's environment."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import torch
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_env(rank: int, world: int, port: int) -> dict[str, str]:
    """What `torchrun --nproc-per-node WORLD` sets (and mmengine's `--launcher pytorch` reads)."""
    return dict(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_WORLD_SIZE=str(world),
    )


def slurm_env(rank: int, world: int, port: int) -> dict[str, str]:
    """What `srun --ntasks WORLD` on one node sets (`--launcher slurm` reads), plus the MASTER_* a job exports."""
    return dict(
        SLURM_PROCID=str(rank),
        SLURM_NTASKS=str(world),
        SLURM_LOCALID=str(rank),
        SLURM_NODELIST="localhost",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )


def _entry(
    rank: int,
    world: int,
    port: int,
    fn: Callable[..., Any],
    args: tuple,
    env: Callable[[int, int, int], dict[str, str]],
) -> None:
    os.environ.update(env(rank, world, port))
    torch.set_num_threads(1)
    fn(rank, world, *args)


def run_launched(
    fn: Callable[..., Any], world: int, *args: Any, env: Callable[[int, int, int], dict[str, str]] = torchrun_env
) -> None:
    """`fn(rank, world, *args)` in `world` processes with the variables `torchrun` sets (or `env`'s, e.g.
    `slurm_env`); joins them and raises if any fails. Forked, so the children inherit the imported modules
    (spawn would re-import torch, mmengine, mmdet: ~10 s each)."""
    mp.start_processes(_entry, args=(world, free_port(), fn, args, env), nprocs=world, join=True, start_method="fork")
