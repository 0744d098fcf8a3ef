"""A non-finite loss stops the run, naming the step, before any checkpoint of the broken weights is saved;
`--nan-retry N` then resumes from the last good checkpoint with half the lr, at most N times."""

from __future__ import annotations

import itertools
from typing import Any

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..errors import UserFacingError
from .workdir import latest_complete_checkpoint


class NonFiniteLossError(UserFacingError):
    lr_scale = 1.0  # the lr (x the config's) of the run that failed


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stops training at the first non-finite loss, before any checkpoint of the broken weights is saved.

    It also makes the lr of a resumed run the config's (x `lr_scale`): resuming loads the optimizer and
    scheduler states, whose lr would otherwise silently win over a lowered one. `lr_scale` (1 unless
    `--nan-retry` halved it) is kept in each checkpoint, so a later plain resume keeps the reduced lr.

    Args:
        lr_scale: the scale `run_with_nan_retry` gives the run it restarts (through the task's `run(cfg,
            lr_scale=...)` and `training_hooks`); None: 1, or the resumed checkpoint's.
    """

    priority = "ABOVE_NORMAL"

    def __init__(self, lr_scale: float | None = None) -> None:
        self.retry_lr_scale = lr_scale

    def before_run(self, runner) -> None:
        self.lr_scale = 1.0 if self.retry_lr_scale is None else self.retry_lr_scale
        self.config_lr = [g.get("initial_lr", g["lr"]) for g in getattr(runner.optim_wrapper, "param_groups", [])]

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.retry_lr_scale is None:
            self.lr_scale = float(checkpoint.get("lr_scale", 1.0))

    def before_train(self, runner) -> None:
        groups = runner.optim_wrapper.param_groups
        loaded = [g.get("initial_lr", g["lr"]) for g in groups]
        factors = [lr * self.lr_scale / now if now else 1.0 for lr, now in zip(self.config_lr, loaded)]
        if all(f == 1.0 for f in factors):
            return
        was = groups[0]["lr"]
        for g, f in zip(groups, factors):
            g["lr"] *= f
            if "initial_lr" in g:
                g["initial_lr"] *= f
        schedulers = runner.param_schedulers or []
        for s in itertools.chain(*schedulers.values()) if isinstance(schedulers, dict) else schedulers:
            s.base_values = [v * f for v, f in zip(s.base_values, factors)]
        runner.logger.warning(
            f"lr = the config's x {self.lr_scale:g}: {groups[0]['lr']:.4g} now in the first "
            f"parameter group (was {was:.4g})"
        )

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint["lr_scale"] = float(self.lr_scale)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        loss = (outputs or {}).get("loss")
        if loss is not None and not torch.isfinite(loss).all():
            last = latest_complete_checkpoint(runner.work_dir)
            err = NonFiniteLossError(
                f"loss became {loss.item()} at iteration {runner.iter + 1} (epoch {runner.epoch + 1}). "
                f"Last good checkpoint: {last or 'none yet'}. Resume from it with a lower lr (--resume auto and "
                "a lower optim.lr / optim.blr), or let --nan-retry N do that; or try precision=fp32 / gradient clipping"
            )
            err.lr_scale = self.lr_scale
            raise err


def run_with_nan_retry(run: Any, cfg: dict[str, Any], retries: int = 0) -> Any:
    """`run(cfg)`; on a non-finite loss, up to `retries` times: resume from the last good checkpoint in the
    work dir (or start again) with half the lr of the run that failed: `run(cfg, lr_scale=...)`, which each
    training task hands to its `training_hooks`."""
    scale = None
    for attempt in range(retries + 1):
        try:
            return run(cfg) if scale is None else run(cfg, lr_scale=scale)
        except NonFiniteLossError as err:
            if attempt == retries:
                raise
            scale = err.lr_scale * 0.5
            last = latest_complete_checkpoint(cfg["work_dir"])
            print(
                f"NOTICE: {str(err).split('. Last')[0]}; --nan-retry {attempt + 1}/{retries}: "
                f"{f'resuming from {last}' if last else 'starting again'} with lr x {scale:g}",
                flush=True,
            )
            cfg = {**cfg, "resume": "auto" if last else cfg.get("resume")}
