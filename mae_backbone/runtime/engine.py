"""mmengine glue shared by every training command.

- `AtomicRunner`: checkpoints are written to a temp file and renamed (a crash never leaves a torn file).
- `allow_mmengine_checkpoints`: torch >= 2.6 loads with weights_only=True; mmengine's checkpoints carry a
  few non-tensor types (message hub buffers, numpy RNG state). They are allow-listed here, in one place.
- `training_hooks`: the hooks of every training run; `ProgressBarHook`: a tqdm bar when the console is a terminal
  (not in a log file: a suite stage's log, a Slurm job's output). Stopping on NaN/inf and `--nan-retry`: `nonfinite.py`.
- `DENSE_CONFIG_KEYS`, `iter_runner_kwargs`, `iter_loop_kwargs`, `build_iter_runner`, `loss_summary`,
  `write_run_metrics`: the config keys, the iteration-based Runner arguments (hooks; loaders and loops), the Runner,
  the training-loss summary and the metrics record detection and segmentation share (the last also pre-training's).
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
from .optim_wrapper import optim_wrapper_cfg
from .records import write_metrics
from .workdir import weights_source

# The top-level keys of a detection or segmentation config: its recipe, then where and how it runs (the Task
# flags, `load_from` from `--eval-only`) and its held-out sweep (runtime/sweep.py).
DENSE_CONFIG_KEYS = (
    "arch",
    "model",
    "data",
    "optim",
    "schedule",
    "test",
    "expected",
    "seed",
    "sweep",
    "work_dir",
    "launcher",
    "resume",
    "eval_only",
    "load_from",
)


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


def iter_runner_kwargs(
    cfg: dict[str, Any], accum: int, scope: str, visualizer: str, cudnn_benchmark: bool, lr_scale: float | None = None
) -> dict[str, Any]:
    """The Runner arguments detection and segmentation share: iteration-based logging and checkpoints (the
    config counts optimizer steps; the loop counts loader iterations, `accum` per step), maebench's resume,
    non-finite-loss and progress hooks (`lr_scale`: `training_hooks`'), gloo where there is no CUDA, and the
    run's seed."""
    sched = cfg["schedule"]
    return dict(
        work_dir=cfg["work_dir"],
        default_hooks=dict(
            timer=dict(type="IterTimerHook"),
            logger=dict(type="LoggerHook", interval=sched["log_interval"], log_metric_by_epoch=False),
            param_scheduler=dict(type="ParamSchedulerHook"),
            checkpoint=dict(
                type="CheckpointHook",
                by_epoch=False,
                interval=sched["checkpoint_interval"] * accum,
                max_keep_ckpts=2,
                save_last=True,
            ),
            sampler_seed=dict(type="DistSamplerSeedHook"),
        ),
        custom_hooks=training_hooks(lr_scale=lr_scale),
        log_processor=dict(by_epoch=False),
        env_cfg=dict(
            cudnn_benchmark=cudnn_benchmark,
            mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
            dist_cfg=dict(backend="nccl" if torch.cuda.is_available() else "gloo"),
        ),
        visualizer=dict(type=visualizer, vis_backends=[dict(type="LocalVisBackend")]),
        default_scope=scope,
        launcher=cfg.get("launcher", "none"),
        randomness=dict(seed=cfg["seed"]),
    )


def iter_loop_kwargs(
    cfg: dict[str, Any],
    accum: int,
    test_dataset: dict[str, Any],
    evaluator: dict[str, Any],
    train_dataset: dict[str, Any] | None = None,
    optim_cfg: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None,
    param_scheduler: list[dict[str, Any]] | None = None,
    **train_loader: Any,
) -> dict[str, Any]:
    """The loaders and loops detection and segmentation share. Test: one image per process per step, each image
    once. With a `train_dataset`: an infinite shuffled loader of `data.batch_size` (plus `train_loader` keys),
    `schedule.iters` optimizer steps of `accum` loader iterations, the precision's optim wrapper completed by the
    task's `optim_cfg(cfg, wrapper)`, and validation on the test loader every `schedule.val_interval` steps (0:
    none; the final weights are tested once, after training)."""
    data, sched, optim = cfg["data"], cfg["schedule"], cfg["optim"]
    workers = data["num_workers"]
    loader = dict(num_workers=workers, persistent_workers=workers > 0)
    # exact-once: rank r scores images r, r + world, ... (DefaultSampler would pad the last shard with repeats)
    test_loader = dict(
        batch_size=1, sampler=dict(type="ExactShardSampler"), drop_last=False, dataset=test_dataset, **loader
    )
    kwargs = dict(test_dataloader=test_loader, test_evaluator=evaluator, test_cfg=dict(type="TestLoop"))
    if train_dataset is None:
        return kwargs
    wrapper = optim_wrapper_cfg(None, optim["precision"], optim["clip_grad"], accum)
    wrapper.pop("optimizer")  # the task's constructor builds it (parameter groups, layer-wise lr decay)
    total = sched["iters"] * accum
    kwargs.update(
        train_dataloader=dict(
            batch_size=data["batch_size"],
            sampler=dict(type="InfiniteSampler", shuffle=True),
            dataset=train_dataset,
            **train_loader,
            **loader,
        ),
        train_cfg=dict(type="IterBasedTrainLoop", max_iters=total, val_interval=sched["val_interval"] * accum or total),
        optim_wrapper=optim_cfg(cfg, wrapper),
        param_scheduler=param_scheduler,
    )
    if sched["val_interval"]:
        kwargs.update(val_dataloader=test_loader, val_evaluator=evaluator, val_cfg=dict(type="ValLoop"))
    return kwargs


def build_iter_runner(
    cfg: dict[str, Any], kwargs: dict[str, Any], plan: dict[str, Any], world_size: int, launch_cfg: dict[str, Any]
) -> AtomicRunner:
    """The Runner of a dense task (detection, segmentation) from its `runner_kwargs`: the weights to start from
    (resume / load_from), the resolved config it records (with the compact `maebench` one), SyncBN under DDP,
    then the SyncBN notice and, when training, the BatchNorm-under-accumulation warning on its log."""
    from ..pyramid import bn_accumulation_warning
    from .distributed import sync_bn, sync_bn_notice

    allow_mmengine_checkpoints()
    work_dir = Path(cfg["work_dir"])
    kwargs = {**kwargs, **weights_source(cfg, work_dir)}
    full_cfg = {k: v for k, v in kwargs.items() if k != "work_dir"}
    full_cfg.update(work_dir=str(work_dir), maebench=cfg)
    if norm := sync_bn(world_size):
        full_cfg["sync_bn"] = norm  # the references' SyncBN in the necks and heads (torch's needs CUDA)
    full_cfg.update(launch_cfg)  # DDP on CPUs (gloo) takes no device ids
    runner = AtomicRunner(**kwargs, cfg=full_cfg)
    runner.logger.info(sync_bn_notice(runner.model, runner.world_size))
    if not cfg.get("eval_only") and (
        warning := bn_accumulation_warning(
            runner.model, cfg["data"]["batch_size"], runner.world_size, plan["global_batch"], plan["accum"]
        )
    ):
        runner.logger.warning(warning)
    return runner


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
