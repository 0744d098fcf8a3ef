"""The iteration-based mmengine Runner detection and segmentation share: their config keys, the Runner arguments
(hooks, logging and checkpoints; loaders and loops) and the Runner itself. Each task adds its model, datasets,
evaluator, optimizer constructor and schedule (`<task>/run.py: runner_kwargs`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .engine import AtomicRunner, allow_mmengine_checkpoints, training_hooks
from .optim_wrapper import optim_wrapper_cfg
from .workdir import weights_source

# The top-level keys of a detection or segmentation config: its recipe, then where and how it runs (the Task
# flags, `load_from` from `--eval-only`) and its held-out sweep (runtime/sweep.py).
CONFIG_KEYS = (
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
