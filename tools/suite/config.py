"""The suite config: an mmengine Python file (the project's one config system) with strict overrides.

Keys (see tools/configs/suite/demo.py for a commented example):
- `work_dir`: where every stage gets its folder; `seed`: passed to every stage; `jobs`: stages run at once
  (an integer, or None: one per backbone on a CPU, 1 with a GPU or a distributed launcher).
- `data`: `demo=dict(root, size, seed)` generates the demo world when absent (None: real data only), and
  one root per format (`pretrain`, `imagenet`, `coco`, `ade`, `inat`, `places`, `robustness`); a root
  left None is taken from the demo world.
- `pretrain`: the `maebench pretrain` config and overrides used when a backbone has `source="pretrain"`.
- `backbones`: label -> `dict(source="pretrain" | "scratch" | "checkpoint", path=..., arch=..., overrides=...)`.
  `scratch` is the same architecture as the first pre-trained backbone, randomly initialised, on the
  same transfer schedule; `checkpoint` is an existing backbone (e.g. an official MAE one after
  `maebench convert`). `overrides`: protocol -> [KEY=VALUE, ...] applied after the protocol's own, for
  this backbone only: its own recipe where the paper tunes one per backbone (A.2: scratch gets its own lr).
- `protocols`: name -> `dict(config=None, overrides=[...], flags=dict(...))`, in run order; names from
  tools.suite.stages.PROTOCOLS. Overrides are the task configs' own keys, applied strictly by the task; flags
  are the task's command-line flags by name (e.g. partial's `blocks="mlp,1,2"`), checked by the task.
- `seeds`: e.g. [0, 1, 2] runs every transfer stage once per seed (pre-training once, with `seed`); None: [seed].
- `baseline`: the label the report's gain rows subtract (None: the scratch backbone).
- `slurm`, `resources`: how `--launcher slurm` sizes and places each stage's job (tools/suite/resources.py).
- `sweep`: protocol -> grid (`{"optim.blr": [1e-3, 3e-3], "aug.preset": ["imagenet", "light"]}`): that protocol's
  recipe is chosen per backbone on a held-out part of the training split, never on val (mae_backbone/runtime/
  sweep.py); each grid point is its own stage (tools/suite/stages.py). `backbones.<b>.sweep` (same shape) replaces
  the suite's grid of a protocol for that backbone (None: no sweep). `sweep_holdout = dict(fraction, seed)`: the
  held-out part (None or dict(): the task config's own `sweep.holdout` / `sweep.seed`).
- `report`: options of the final `maebench report` (reconstruction figures).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mae_backbone.errors import ConfigError
from mae_backbone.runtime.config import check_known_keys, load_config, refuse_unknown
from mae_backbone.runtime.records import METRICS_FILE

from .stages import PROTOCOLS

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "tools" / "configs" / "suite"
DEFAULT_CONFIG = CONFIG_DIR / "demo.py"
CONFIG_KEYS = (
    "work_dir",
    "seed",
    "seeds",
    "jobs",
    "data",
    "pretrain",
    "backbones",
    "protocols",
    "report",
    "baseline",
    "slurm",
    "resources",
    "sweep",
    "sweep_holdout",
)
DATA_KEYS = ("pretrain", "imagenet", "coco", "ade", "inat", "places", "robustness")
SOURCES = ("pretrain", "scratch", "checkpoint")
BACKBONE_KEYS = ("source", "path", "arch", "img_size", "overrides", "resources", "sweep")
PROTOCOL_KEYS = ("config", "overrides", "flags", "anchor")


def find_file(path: str | None, what: str, source: str) -> str | None:
    """A config path as given (relative to the working dir), else relative to the maebench checkout."""
    if path is None:
        return None
    for candidate in (Path(path), REPO / path):
        if candidate.is_file():
            return str(candidate)
    raise ConfigError(
        f"{source}: {what} {path!r} not found (relative paths are tried from the working dir and from {REPO})"
    )


def load_suite(path: str | Path | None, overrides: Iterable[str] = ()) -> dict[str, Any]:
    path = str(path or DEFAULT_CONFIG)
    path = find_file(path, "suite config", "maebench suite") or path
    cfg = load_config(path, overrides)
    check_known_keys(cfg, CONFIG_KEYS, path)
    suite = cfg.to_dict()
    suite["config_path"] = path
    return resolve(suite, path)


def _pretrain_arch(pre: dict[str, Any]) -> tuple[str, int]:
    """Architecture and image size of the model the pretrain stage will build (read from its config)."""
    from mae_backbone.pretrain import CONFIG_DIR as PRETRAIN_CONFIGS

    cfg = load_config(pre.get("config") or PRETRAIN_CONFIGS / "mae_demo.py", [o for o in pre.get("overrides", [])])
    return cfg.arch, int(cfg.model.img_size)


def _checkpoint_arch(path: str, source: str) -> tuple[str, int | None]:
    from mae_backbone.checkpoint import read_sidecar  # the one sidecar reader (JSON and format version checked)

    meta = read_sidecar(path)  # what save_backbone / convert write beside the tensors
    if not meta.get("arch_name"):
        raise ConfigError(
            f"{source}: {path} has no sidecar naming its architecture; give arch=... for it in "
            "`backbones`, or convert it with `maebench convert`"
        )
    return meta["arch_name"], meta.get("img_size")


def _backbone_overrides(value: Any, where: str) -> dict[str, list[str]]:
    """protocol -> KEY=VALUE strings; a protocol name that is not one (a typo) is an error, not ignored."""
    value = value or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a dict protocol -> [KEY=VALUE, ...], got {value!r}")
    refuse_unknown(value, PROTOCOLS, "protocol", where)
    for proto, items in value.items():
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) and "=" in i for i in items):
            raise ConfigError(f"{where}.{proto} must be a list of 'KEY=VALUE' strings, got {items!r}")
    return {p: list(items) for p, items in value.items()}


def _grids(value: Any, where: str, protocols: dict[str, Any], none_ok: bool) -> dict[str, dict[str, list] | None]:
    """protocol -> grid, each checked against the protocol's task config (a grid key it lacks is a typo)."""
    value = value or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a dict protocol -> {{config key: [values, ...]}}, got {value!r}")
    refuse_unknown(value, PROTOCOLS, "protocol", where)
    out: dict[str, dict[str, list] | None] = {}
    for proto, grid in value.items():
        if proto not in protocols:
            raise ConfigError(f"{where}.{proto}: the suite runs no {proto} (its protocols: {', '.join(protocols)})")
        if grid is None and none_ok:  # this backbone keeps the protocol's fixed recipe
            out[proto] = None
            continue
        if not isinstance(grid, dict) or not grid:
            raise ConfigError(f"{where}.{proto} must map config keys to lists of values, got {grid!r}")
        for key, values in grid.items():
            if not isinstance(values, (list, tuple)) or not values:
                raise ConfigError(f"{where}.{proto}.{key} must be a non-empty list of values, got {values!r}")
        refuse_unknown(grid, _sweepable_keys(proto, protocols[proto].get("config"), where), "config key", where)
        out[proto] = {k: list(v) for k, v in grid.items()}
    return out


def _sweepable_keys(proto: str, config: str | None, where: str) -> list[str]:
    """The dotted keys a grid of `proto` may vary: its task config's, less the sweep's own and where it runs."""
    from tools.commands import load_task

    task = load_task(PROTOCOLS[proto].task)
    cfg = load_config(config or task.default_config).to_dict()
    if not task.sweep_adapter or "sweep" not in cfg:
        raise ConfigError(f"{where}.{proto}: maebench {task.name} has no held-out recipe sweep")
    if PROTOCOLS[proto].done_file != METRICS_FILE:  # partial: its stage is a sweep over k already (--blocks)
        raise ConfigError(f"{where}.{proto}: its stage sweeps already (it ends in {PROTOCOLS[proto].done_file})")

    def walk(node: Any, prefix: str = "") -> list[str]:
        found = []
        for k, v in node.items():
            found.append(prefix + k)
            if isinstance(v, dict):
                found += walk(v, f"{prefix}{k}.")
        return found

    return [k for k in walk(cfg) if k.split(".")[0] not in ("sweep", "work_dir", "launcher", "resume", "seed")]


def _holdout(value: Any, source: str) -> dict[str, Any] | None:
    if not value:  # None or dict(): each task config's own sweep.holdout / sweep.seed
        return None
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: sweep_holdout must be dict(fraction=0.2, seed=0), got {value!r}")
    refuse_unknown(value, ("fraction", "seed"), "key", f"{source}: sweep_holdout")
    fraction, seed = value.get("fraction", 0.2), value.get("seed", 0)
    if not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ConfigError(f"{source}: sweep_holdout.fraction must lie between 0 and 1 (e.g. 0.2), got {fraction!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"{source}: sweep_holdout.seed must be an integer, got {seed!r}")
    return dict(fraction=float(fraction), seed=seed)


def resolve_sweeps(suite: dict[str, Any], source: str) -> None:
    """Each backbone's `sweep`: protocol -> grid, the suite's `sweep` with the backbone's own on top (no None)."""
    protocols = suite.get("protocols") or {}
    shared = _grids(suite.get("sweep"), f"{source}: sweep", protocols, none_ok=False)
    suite["sweep"] = shared
    suite["sweep_holdout"] = _holdout(suite.get("sweep_holdout"), source)
    for label, b in suite["backbones"].items():
        own = _grids(b.get("sweep"), f"{source}: backbones.{label}.sweep", protocols, none_ok=True)
        b["sweep"] = {p: g for p, g in {**shared, **own}.items() if g is not None}


def resolve(suite: dict[str, Any], source: str) -> dict[str, Any]:
    """Fill data roots from the demo world, find config files, fix each backbone's checkpoint and arch."""
    suite = copy.deepcopy(suite)
    data = dict(suite.get("data") or {})
    demo = data.pop("demo", None)
    refuse_unknown(data, DATA_KEYS, "data root", source)
    if demo:
        from tools.demo_world import summary

        world = summary(Path(demo["root"]), demo.get("size", "small"), demo.get("seed", 0), demo.get("image_size", 128))
        data = {k: data.get(k) or world[k] for k in DATA_KEYS}
    suite["demo"], suite["data"] = demo, {k: data.get(k) for k in DATA_KEYS}

    protocols = suite.get("protocols") or {}
    refuse_unknown(protocols, PROTOCOLS, "protocol", source)
    for name, opts in protocols.items():
        refuse_unknown(opts, PROTOCOL_KEYS, "key", f"{source}: protocols.{name}")
        opts["config"] = find_file(opts.get("config"), f"config of protocol {name}", source)
        if not suite["data"][PROTOCOLS[name].data]:  # a protocol whose data root is missing cannot run: say so now
            raise ConfigError(f"{source}: protocol {name} needs data.{PROTOCOLS[name].data} (or data.demo)")
    pre = suite.get("pretrain") or {}
    refuse_unknown(pre, ("config", "overrides", "flags"), "key", f"{source}: pretrain")
    pre["config"] = find_file(pre.get("config"), "pretrain config", source)
    suite["pretrain"] = pre
    seeds = suite.get("seeds") or [suite.get("seed", 0)]
    if not isinstance(seeds, (list, tuple)) or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds):
        raise ConfigError(f"{source}: seeds must be a list of integers (e.g. [0, 1, 2]), got {seeds!r}")
    suite["seeds"] = list(dict.fromkeys(seeds))

    backbones = suite.get("backbones") or {}
    if not backbones:
        raise ConfigError(f"{source}: `backbones` is empty; name at least one (e.g. mae=dict(source='pretrain'))")
    reference: tuple[str, int | None] | None = None
    for label, b in backbones.items():
        if "/" in label or label == "pretrain":
            raise ConfigError(f"{source}: backbone label {label!r} cannot contain '/' or be 'pretrain'")
        refuse_unknown(b, BACKBONE_KEYS, "key", f"{source}: backbones.{label}")
        b["overrides"] = _backbone_overrides(b.get("overrides"), f"{source}: backbones.{label}.overrides")
        kind = b.get("source")
        if kind not in SOURCES:
            raise ConfigError(f"{source}: backbones.{label}.source must be one of {', '.join(SOURCES)}, got {kind!r}")
        if kind == "pretrain":
            b["checkpoint"] = str(Path(suite["work_dir"]) / "pretrain" / "backbone.safetensors")
            b["arch"], b["img_size"] = _pretrain_arch(pre)
            if not suite["data"]["pretrain"]:
                raise ConfigError(f"{source}: backbone {label} is pre-trained here but data.pretrain is not set")
        elif kind == "checkpoint":
            path = b.get("path")
            if not path or not Path(path).is_file():
                raise ConfigError(
                    f"{source}: backbones.{label}.path {path!r} is not a file; give a backbone "
                    "checkpoint (`maebench convert` turns an official MAE .pth into one)"
                )
            b["checkpoint"] = path
            arch, size = (b["arch"], b.get("img_size")) if b.get("arch") else _checkpoint_arch(path, source)
            b["arch"], b["img_size"] = arch, size
        if kind != "scratch" and reference is None:
            reference = (b["arch"], b.get("img_size"))
    for label, b in backbones.items():
        if b["source"] == "scratch":
            b["checkpoint"] = None
            if not b.get("arch"):
                if reference is None:
                    raise ConfigError(
                        f"{source}: backbones.{label} is from scratch but no other backbone fixes "
                        "the architecture; give arch=... (e.g. 'vit_base_patch16')"
                    )
                b["arch"], b["img_size"] = reference
    suite["backbones"] = backbones
    if suite.get("baseline") is not None and suite["baseline"] not in backbones:
        refuse_unknown([suite["baseline"]], backbones, "backbone", f"{source}: baseline")
    resolve_sweeps(suite, source)
    suite.setdefault("report", {})
    suite.setdefault("jobs", None)
    from .resources import check_resources

    check_resources(suite, source)
    return suite
