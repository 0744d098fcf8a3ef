"""Thin `maebench finetune | linprobe | partial | robustness` commands: each is a Task (mae_backbone.runtime.task)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mae_backbone.errors import ConfigError
from mae_backbone.runtime.task import EVAL_ONLY, Flag, Task, data_flag

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
DEFAULT_CONFIGS = {p: str(CONFIG_DIR / f"{p}_demo.py") for p in ("finetune", "linprobe", "partial")}
SWEEP_ADAPTER = "classification.sweep:ADAPTER"
PRETRAINED = Flag(
    "pretrained", "pretrained", "backbone checkpoint to start from; with --eval-only, the classifier to evaluate"
)


def run(cfg: dict[str, Any], nan_retry: int = 0) -> dict[str, Any]:
    """One classification run (its cost measured), or with `sweep.grid` the held-out selection (sweep.py)."""
    from mae_backbone.runtime.sweep import run_or_sweep

    from ..run import run as run_one

    return run_or_sweep(run_one, cfg, nan_retry, SWEEP_ADAPTER)


def classification_task(protocol: str, flags: tuple[Flag, ...] = (), run: str | None = None) -> Task:
    def finish(cfg: Any, config: str) -> None:
        from ..sweep import apply_aug_preset

        if cfg.get("protocol") != protocol:
            raise ConfigError(
                f"{config}: is a {cfg.get('protocol')!r} recipe; run it with `maebench {cfg.get('protocol')}`"
            )
        if cfg.get("linprobe_config"):  # the k=0 recipe of a partial config, relative to the config naming it
            cfg.linprobe_config = str((Path(config).parent / cfg.linprobe_config).resolve())
        apply_aug_preset(cfg)

    return Task(
        name=protocol,
        default_config=DEFAULT_CONFIGS[protocol],
        config_keys="classification.run:CONFIG_KEYS",
        run=run or "classification.commands:run",
        flags=(data_flag("dataset root (format from data.format)"), PRETRAINED, EVAL_ONLY) + flags,
        finish=finish,
        retries_inside=True,
        sweep_adapter=SWEEP_ADAPTER,
    )


def load_protocol_config(path: str, overrides: list[str], protocol: str) -> Any:
    """A classification config file, checked like `maebench <protocol>` checks it (for tests and the sweep)."""
    from mae_backbone.runtime.config import check_known_keys, load_config

    from ..run import CONFIG_KEYS

    cfg = load_config(path, overrides)
    check_known_keys(cfg, CONFIG_KEYS, path)
    if cfg.get("protocol") != protocol:
        raise ConfigError(f"{path}: is a {cfg.get('protocol')!r} recipe; run it with `maebench {cfg.get('protocol')}`")
    return cfg
