"""Where the suite's stages run: in this process one at a time (`jobs=1`), or `jobs` at once, each in a
worker process with its share of the CPU threads.

Why workers: the demo suite's models are tiny (a 6-block 128-d ViT), and a step of a tiny model does not
scale across threads. Measured on a 2-core EPYC: one fine-tune stage with 2 threads took 58 s; the MAE and
the scratch fine-tune run side by side with one thread each took 60 s together -- the suite's two
backbones for the price of one. Each worker is a fresh interpreter (spawn: no inherited OpenMP or mmengine
state) that stays up for the whole suite, so the imports are paid once per worker, not per stage.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from mae_backbone.errors import ConfigError, is_interrupt


def resolve_jobs(jobs: int | None, launcher: str, backbones: int, threads: int, cuda: bool) -> int:
    """`jobs=None` (auto): one stage at a time under a distributed launcher (every rank runs every stage in
    lockstep) or with a GPU (the stages share one device); on a CPU, one per backbone, at most one per thread."""
    if jobs is None:
        if launcher != "none" or cuda:
            return 1
        return max(1, min(backbones, threads))
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ConfigError(f"suite: jobs must be a positive integer or 'auto', got {jobs!r} (None: auto)")
    if jobs > 1 and launcher != "none":
        raise ConfigError(
            f"suite: jobs={jobs} with --launcher {launcher}: a distributed suite runs one stage at "
            "a time on every rank; set jobs=1 (or None: auto)"
        )
    return jobs


def _init_worker(threads: int) -> None:
    """Runs first in each worker: its thread share and the CLI's allocator setting."""
    os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    import torch

    from mae_backbone.runtime.cpu import keep_freed_memory

    torch.set_num_threads(threads)
    keep_freed_memory()


class InlineExecutor:
    """`jobs=1`: a stage runs in this process when it is submitted (the part of a pool's interface we use)."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # noqa: BLE001 -- recorded by the caller, as a pool would
            if is_interrupt(err):  # a Ctrl-C a library wrapped in another error: still the user's stop
                raise KeyboardInterrupt from err
            future.set_exception(err)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def make_executor(jobs: int, threads: int) -> InlineExecutor | ProcessPoolExecutor:
    """A pool of `jobs` workers sharing `threads` CPU threads between them (at least one each)."""
    if jobs == 1:
        return InlineExecutor()
    import multiprocessing

    share = max(1, threads // jobs)
    return ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker, initargs=(share,)
    )
