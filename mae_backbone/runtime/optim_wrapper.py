"""Optimizer glue shared by every training command: precision, the optim wrapper, torch.compile.

- `optim_wrapper_cfg`: the mmengine optim-wrapper config for fp32 | bf16 | fp16 | auto.
- `BF16CpuOptimWrapper`: bf16 autocast on CPUs (AMX), where mmengine's AmpOptimWrapper refuses to run.
- `build_optim_wrapper`: a wrapper over explicit parameter groups (layer decay, no-decay sets).
- `layer_decay_adamw_cfg`: the same AdamW as a config, for the dense tasks' layer-decay constructors.
- `compile_in_place`: `torch.compile` that keeps checkpoint keys and falls back to eager code.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

from ..errors import UserFacingError
from .cpu import cpu_has_fast_bf16


@OPTIM_WRAPPERS.register_module()
class BF16CpuOptimWrapper(OptimWrapper):
    """Runs the forward pass under bf16 autocast on the CPU; weights and optimizer state stay fp32."""

    @contextlib.contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), torch.autocast("cpu", dtype=torch.bfloat16):
            yield


def build_optim_wrapper(
    groups: list[dict[str, Any]],
    optimizer: str = "AdamW",
    precision: str = "auto",
    clip_grad: dict | None = None,
    accumulative_counts: int = 1,
    **opt_kwargs: Any,
) -> OptimWrapper:
    """An optim wrapper over explicit parameter groups (each with its absolute lr and weight decay)."""
    from timm.optim import Lars

    classes = {"AdamW": torch.optim.AdamW, "SGD": torch.optim.SGD, "LARS": Lars}
    if optimizer not in classes:
        raise UserFacingError(f"optimizer {optimizer!r} unknown; choose one of {', '.join(classes)}")
    if optimizer == "AdamW":
        opt_kwargs.setdefault("fused", True)  # one fused kernel for all groups (CPU and CUDA in torch >= 2.4)
    opt = classes[optimizer](groups, **opt_kwargs)
    cfg = optim_wrapper_cfg(None, precision, clip_grad, accumulative_counts)
    cfg.pop("optimizer")
    return OPTIM_WRAPPERS.build({**cfg, "optimizer": opt})


def optim_wrapper_cfg(
    optimizer: dict | None, precision: str = "auto", clip_grad: dict | None = None, accumulative_counts: int = 1
) -> dict:
    """The optim-wrapper config for a precision: fp32 | bf16 | fp16 | auto (bf16 where it is fast)."""
    cuda = torch.cuda.is_available()
    if precision == "auto":
        precision = "bf16" if (cuda and torch.cuda.is_bf16_supported()) or cpu_has_fast_bf16() else "fp32"
    cfg: dict[str, Any] = dict(optimizer=optimizer, accumulative_counts=accumulative_counts)
    if clip_grad:
        cfg["clip_grad"] = clip_grad
    if precision == "fp32":
        cfg["type"] = "OptimWrapper"
    elif precision in ("bf16", "fp16") and cuda:
        cfg.update(type="AmpOptimWrapper", dtype="bfloat16" if precision == "bf16" else "float16")
    elif precision == "bf16":
        cfg["type"] = "BF16CpuOptimWrapper"
    else:
        raise UserFacingError(f"precision {precision!r} needs a GPU here; use bf16 or fp32 on a CPU")
    return cfg


def layer_decay_adamw_cfg(optim: dict[str, Any], wrapper: dict[str, Any], constructor: str) -> dict[str, Any]:
    """Detection's and segmentation's optim wrapper: AdamW (fused, as `build_optim_wrapper`'s) whose parameter
    groups and layer-wise lr decay come from the task's registered `constructor`."""
    adamw = dict(
        type="AdamW", lr=optim["lr"], betas=tuple(optim["betas"]), weight_decay=optim["weight_decay"], fused=True
    )
    return dict(
        **wrapper, optimizer=adamw, constructor=constructor, paramwise_cfg=dict(layer_decay=optim["layer_decay"])
    )


def compile_in_place(module: torch.nn.Module, enabled: bool) -> None:
    """`torch.compile` the module in place (its state_dict keys stay unchanged, so checkpoints do too).

    Where inductor cannot build (no C++ compiler, an unsupported op) the step falls back to eager code
    with a warning instead of stopping the run. Measured on a 2-core AMX Xeon, MAE ViT-B/16 step at
    batch 32 in bf16: 2.4 s -> 2.2 s after a 90 s first compile; vit_mini: 81 -> 73 ms after 40 s, so
    only the full-size configs turn it on.
    """
    if not enabled:
        return
    import torch._dynamo

    torch._dynamo.config.suppress_errors = True
    module.compile()
