"""mmengine glue shared by every training command.

- `AtomicRunner`: checkpoints are written to a temp file and renamed (a crash never leaves a torn file).
- `allow_mmengine_checkpoints`: torch >= 2.6 loads with weights_only=True; mmengine's checkpoints carry a
  few non-tensor types (message hub buffers, numpy RNG state). They are allow-listed here, in one place.
- `training_hooks`: the hooks of every training run; `ProgressBarHook`: a tqdm bar when the console is a terminal
  (not in a log file: a suite stage's log, a Slurm job's output). Stopping on NaN/inf and `--nan-retry`: `nonfinite.py`.
- `loss_summary`, `write_run_metrics`: the training-loss summary and the metrics record (rank 0) of a run.
The iteration-based Runner of detection and segmentation: `dense.py`.
Which checkpoint a run resumes from, and whether its work dir can hold one: `workdir.py`.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import Runner

from . import (
    cost,  # noqa: F401  (registers CostHook)
    nonfinite,  # noqa: F401  (registers NonFiniteLossHook)
)
from .records import write_metrics


def allow_mmengine_checkpoints() -> None:
    """Allow-list the few numpy types that may remain in an mmengine checkpoint, for weights_only loading.

    Together with `ResumableStateHook` (which stores the message hub and RNG states as plain tensors)
    this keeps resume working under torch's weights_only default without allowing `getattr` or any
    code-reaching global.
    """
    import numpy as np

    safe: list[Any] = [np.ndarray, np.dtype, np.core.multiarray._reconstruct, np.core.multiarray.scalar]
    if hasattr(np, "dtypes"):
        safe += [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
    torch.serialization.add_safe_globals(safe)


@HOOKS.register_module()
class ResumableStateHook(Hook):
    """Makes checkpoints weights-only loadable and resumes bit-for-bit where the ops allow.

    mmengine pickles its message hub's HistoryBuffers (with bound methods, i.e. `getattr`, which a safe
    loader must refuse). We store them as tensors instead, plus the python / numpy / torch RNG states, so
    a resumed run draws the same masks and augmentations as an uninterrupted one: restored once an
    iteration-based loop has replayed the trained batches, and left unchanged by validation.
    """

    priority = "VERY_HIGH"

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        hub = checkpoint.get("message_hub", {})
        scalars = {}
        for key, buf in hub.get("log_scalars", {}).items():
            log, count = buf.data
            scalars[key] = {"log": torch.as_tensor(log), "count": torch.as_tensor(count), "max_length": buf.max_length}
        hub["log_scalars"] = scalars
        # Plain Python scalars only (np.float64 is a float subclass, but it pickles as a numpy global).
        hub["runtime_info"] = {
            k: _builtin(v)
            for k, v in hub.get("runtime_info", {}).items()
            if isinstance(v, (int, float, str, bool, type(None), list, dict))
        }
        checkpoint["rng"] = _rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from mmengine.logging import HistoryBuffer

        hub = checkpoint.get("message_hub", {})
        for key, val in list(hub.get("log_scalars", {}).items()):
            if isinstance(val, dict):
                hub["log_scalars"][key] = HistoryBuffer(val["log"].numpy(), val["count"].numpy(), val["max_length"])
        self._resumed_rng = checkpoint.get("rng")
        if self._resumed_rng:
            _set_rng_state(self._resumed_rng)

    def before_train_epoch(self, runner) -> None:
        # mmengine's IterBasedTrainLoop resumes by replaying `iter` batches through the data pipeline, which
        # draws the augmentations' randomness again: restore the checkpoint's RNG once those are skipped.
        from mmengine.runner import IterBasedTrainLoop

        rng, self._resumed_rng = getattr(self, "_resumed_rng", None), None
        loop = runner.train_loop
        if rng and isinstance(loop, IterBasedTrainLoop) and loop.iter > 0:
            loop.dataloader_iterator = _RestoreRngAfter(loop.dataloader_iterator, loop.iter, rng)

    # Validation leaves the training RNG streams as it found them (its DataLoader draws a base seed): a run
    # that validates after a checkpoint then continues exactly as one resumed from that checkpoint.
    def before_val(self, runner) -> None:
        self._rng_before_val = _rng_state()

    def after_val(self, runner) -> None:
        _set_rng_state(self._rng_before_val)


class _RestoreRngAfter:
    """A train-loop data iterator that sets the RNG state once `skip` batches have been drawn from it."""

    def __init__(self, inner: Any, skip: int, rng: dict) -> None:
        self.inner, self.skip, self.rng = inner, skip, rng

    def __next__(self) -> Any:
        if self.skip == 0 and self.rng is not None:
            _set_rng_state(self.rng)
            self.rng = None
        self.skip -= 1
        return next(self.inner)


def _rng_state() -> dict[str, Any]:
    """The python / numpy / torch (/ cuda) RNG states, as weights-only-loadable builtins and tensors."""
    import random

    import numpy as np

    np_state = np.random.get_state()
    return {
        "python": _plain(random.getstate()),
        "numpy": [
            np_state[0],
            torch.as_tensor(np_state[1]),
            *[int(v) if isinstance(v, (int, np.integer)) else float(v) for v in np_state[2:]],
        ],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(rng: dict[str, Any]) -> None:
    import random

    import numpy as np

    random.setstate(_tuple(rng["python"]))
    name, keys, *rest = rng["numpy"]
    np.random.set_state((name, keys.numpy(), *rest))
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def _builtin(v: Any) -> Any:
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    return v


def _plain(obj: Any) -> Any:
    return [_plain(o) for o in obj] if isinstance(obj, (tuple, list)) else obj


def _tuple(obj: Any) -> Any:
    return tuple(_tuple(o) for o in obj) if isinstance(obj, list) else obj


_RUNS = itertools.count()


class AtomicRunner(Runner):
    """mmengine Runner whose checkpoints appear atomically (temp file, fsync, rename).

    Each runner also gets a unique experiment name. mmengine keys its logger, message hub, visualizer and
    default registry scope by that name, which defaults to a one-second timestamp: two runs started within
    a second in one process (the suite does that) would share them, the second silently inheriting the
    first one's registry scope ("DetLocalVisualizer is not in the mmengine registry") and loss history.
    """

    def __init__(self, *args: Any, experiment_name: str | None = None, **kwargs: Any) -> None:
        if experiment_name is None:
            experiment_name = f"{Path(str(kwargs.get('work_dir', 'run'))).name}_{os.getpid()}_{next(_RUNS)}"
        super().__init__(*args, experiment_name=experiment_name, **kwargs)

    def train(self) -> Any:
        try:
            return super().train()
        finally:
            self.close_loader_workers()

    def test(self) -> dict:
        try:
            return super().test()
        finally:
            self.close_loader_workers()

    def close_loader_workers(self) -> None:
        """Stop the loaders' persistent worker processes now, while they still answer.

        Left to the garbage collector, a finished run's loader iterators were collected in the middle of a
        later run in the same process (the suite), each waiting up to 5 s per worker to join: 11-51 s of a
        detection stage went there (py-spy: `_shutdown_workers` under yapf's config formatting).
        """
        for name in ("_train_loop", "_val_loop", "_test_loop"):
            loader = getattr(getattr(self, name, None), "dataloader", None)
            iterator = getattr(loader, "_iterator", None)
            if iterator is not None and hasattr(iterator, "_shutdown_workers"):
                iterator._shutdown_workers()
                loader._iterator = None

    @master_only  # as Runner.save_checkpoint: other ranks write nothing, so there is nothing to rename
    def save_checkpoint(self, out_dir: str, filename: str, *args: Any, **kwargs: Any) -> None:
        tmp_name = f".{filename}.tmp"
        super().save_checkpoint(out_dir, tmp_name, *args, **kwargs)
        tmp, final = os.path.join(out_dir, tmp_name), os.path.join(out_dir, filename)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)


def training_hooks(*extra: str, lr_scale: float | None = None) -> list[dict[str, Any]]:
    """The hooks of every training run: resumable RNG/message-hub state, stop on NaN, progress, measured cost.
    `lr_scale`: the lr (x the config's) of a run that `run_with_nan_retry` restarts (None: not a retry)."""
    hooks: list[dict[str, Any]] = [
        dict(type=name) for name in ("ResumableStateHook", "NonFiniteLossHook", "ProgressBarHook", "CostHook", *extra)
    ]
    if lr_scale is not None:
        hooks[1]["lr_scale"] = lr_scale
    return hooks


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """A tqdm bar over all training iterations (rank 0 only), with the latest loss."""

    priority = "LOW"

    def before_train(self, runner) -> None:
        from tqdm.auto import tqdm

        self.bar = None
        if runner.rank == 0 and sys.stderr.isatty():  # a log file gets the logger's lines, not bar redraws
            self.bar = tqdm(
                total=runner.max_iters,
                initial=runner.iter,
                desc=runner.experiment_name[:24],
                unit="it",
                dynamic_ncols=True,
                leave=False,
            )

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if runner.iter % 10 == 0 and outputs and "loss" in outputs:
                self.bar.set_postfix(loss=f"{float(outputs['loss']):.4f}")

    def after_train(self, runner) -> None:
        if self.bar is not None:
            self.bar.close()


def loss_summary(runner: Runner) -> dict[str, float] | None:
    """Mean training loss over the first and last tenth of the logged iterations (did it learn?)."""
    buf = runner.message_hub.log_scalars.get("train/loss")
    if buf is None:
        return None
    losses = buf.data[0]
    k = max(1, len(losses) // 10)
    return {"train_loss_first": float(losses[:k].mean()), "train_loss_last": float(losses[-k:].mean())}


def write_run_metrics(
    runner: Runner, cfg: dict[str, Any], metrics: dict[str, Any], task: str, protocol: Callable[[], dict[str, Any]]
) -> None:
    """The run's metrics.json with its seed, world size and `protocol()`: on rank 0 only (a protocol's dataset
    fingerprint stats every file)."""
    if runner.rank == 0:
        write_metrics(
            runner.work_dir, metrics, task=task, seed=cfg["seed"], world_size=runner.world_size, protocol=protocol()
        )
