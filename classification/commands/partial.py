"""`maebench partial`: partial fine-tuning of the last k blocks; `--blocks 0,1,2,4,mlp` sweeps k and plots
the accuracy-vs-k curve (paper Fig. 9). Optimizer overrides apply to k >= 1; k = 0 runs the config's
`linprobe_config` recipe with this run's dataset, architecture, input size, checkpoint and seed."""

from __future__ import annotations

from typing import Any

from mae_backbone.runtime.task import Flag

from . import classification_task, load_protocol_config

BLOCKS = Flag(
    "blocks",
    "blocks",
    "sweep: comma-separated numbers of tuned blocks and/or 'mlp' (e.g. 0,1,2,4,6,mlp);"
    " each k in WORK_DIR/k<k>, finished ones are skipped; sets blocks",
    metavar="K,K,...",
)


def run(cfg: dict[str, Any], nan_retry: int = 0) -> dict[str, Any]:
    """One partial run, or with `blocks` the sweep (each k retried on its own after a non-finite loss)."""
    from mae_backbone.runtime.cost import measure
    from mae_backbone.runtime.nonfinite import run_with_nan_retry

    from ..run import run as run_one

    def one(sub: dict[str, Any]) -> dict[str, Any]:
        return measure(lambda c: run_with_nan_retry(run_one, c, nan_retry), sub)

    if not cfg.get("blocks"):
        from . import run as run_or_sweep

        return run_or_sweep(cfg, nan_retry)
    if (cfg.get("sweep") or {}).get("grid"):
        from mae_backbone.errors import ConfigError

        raise ConfigError("--blocks sweeps k already: give sweep.grid to one partial run (without --blocks)")
    if cfg.get("eval_only"):
        from mae_backbone.errors import ConfigError

        raise ConfigError("--eval-only evaluates one classifier: use `maebench partial --eval-only` without --blocks")
    from mae_backbone.factory import variant_args

    from ..partial import parse_blocks, run_sweep

    depth = variant_args(cfg["arch"])["depth"]  # each run checks k again against its built backbone
    blocks = parse_blocks(cfg["blocks"], depth)
    sweep = {k: v for k, v in cfg.items() if k != "blocks"}
    summary = run_sweep(sweep, blocks, lambda path: load_protocol_config(path, [], "linprobe").to_dict(), one)
    return {"top1": summary["top1"]}


TASK = classification_task("partial", (BLOCKS,), run="classification.commands.partial:run")
add_arguments, main = TASK.add_arguments, TASK.main
