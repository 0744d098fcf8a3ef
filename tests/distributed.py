"""Multi-process test helpers: a free local port, and forked workers under torchrun's environment."""
from __future__ import annotations

import os
import socket
from typing import Any, Callable

import torch
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(rank: int, world: int, port: int, fn: Callable[..., Any], args: tuple) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    fn(rank, world, *args)


def run_launched(fn: Callable[..., Any], world: int, *args: Any) -> None:
    """`fn(rank, world, *args)` in `world` processes with the variables `torchrun` sets (what mmengine's
    `--launcher pytorch` reads); joins them and raises if any fails. Forked, so the children inherit the
    imported modules (spawn would re-import torch, mmengine, mmdet: ~10 s each)."""
    mp.start_processes(_entry, args=(world, free_port(), fn, args), nprocs=world, join=True, start_method="fork")
