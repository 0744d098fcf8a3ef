"""The batch plan of every training task: a recipe is defined by its global (effective) batch.

The processes hold `data.batch_size` images each; gradient accumulation over `accum` loader iterations
reaches the recipe's `optim.global_batch`, or the combination is refused. Where a recipe states a base
lr, the absolute lr follows the MAE paper's rule, lr = blr x global batch / 256. An epoch-based run that
would make no optimizer step in an epoch is refused too (official MAE issue #49: 0.1% accuracy, no error).
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError


def batch_plan(batch_size: int, world_size: int, global_batch: int | None, blr: float | None = None) -> dict[str, Any]:
    """{"global_batch", "accum"} (+ "lr" with `blr`); a global batch of None is one step of every process."""
    per_step = batch_size * world_size
    global_batch = global_batch or per_step
    if global_batch % per_step:
        raise ConfigError(
            f"global batch {global_batch} is not a multiple of data.batch_size x world size = "
            f"{batch_size} x {world_size}; change data.batch_size or optim.global_batch so it divides"
        )
    plan: dict[str, Any] = {"global_batch": global_batch, "accum": global_batch // per_step}
    if blr is not None:
        plan["lr"] = blr * global_batch / 256
    return plan


def refuse_no_update(images: int, batches_per_epoch: int, batch_size: int, world_size: int, accum: int) -> None:
    """Refuse an epoch of fewer loader batches than the `accum` of one optimizer update."""
    if batches_per_epoch < accum:
        raise ConfigError(
            f"{images} training images make {batches_per_epoch} batches of {batch_size} x {world_size} per epoch, "
            f"fewer than the {accum} accumulation steps of one optimizer update: no update would ever happen. "
            "Lower optim.global_batch or data.batch_size"
        )
