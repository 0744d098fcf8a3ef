"""mmengine Python configs with strict `key=value` overrides: an unknown key is an error, not a new key.

mmengine's own `merge_from_dict` silently adds a typo as a new key (user pain: overrides that silently
accept typos); we walk the existing tree instead and check each value's type against the old one.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mmengine.config import Config, ConfigDict

from ..errors import ConfigError


def parse_value(text: str) -> Any:
    """Python literal if it parses (`1e-3`, `[3,5]`, `None`, `True`), else the raw string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _all_keys(node: Any, prefix: str = "") -> list[str]:
    keys = []
    if isinstance(node, dict):
        for k, v in node.items():
            keys.append(prefix + str(k))
            keys += _all_keys(v, f"{prefix}{k}.")
    return keys


def _compatible(old: Any, new: Any) -> bool:
    if old is None or new is None:
        return True
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool) and isinstance(new, bool)
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        return not (isinstance(old, int) and isinstance(new, float) and not new.is_integer())
    if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
        return True
    return isinstance(new, type(old)) or isinstance(old, type(new))


def apply_overrides(cfg: Config | dict, overrides: Iterable[str], source: str = "config") -> list[str]:
    """Apply `a.b.c=value` items in place; return them normalised as `a.b.c=repr(value)` for the log."""
    applied = []
    if isinstance(cfg, Config):  # walk the underlying ConfigDict (mmengine does the same in merge_from_dict)
        cfg = object.__getattribute__(cfg, "_cfg_dict")
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value (e.g. optim.lr=1e-3)")
        key, raw = item.split("=", 1)
        value = parse_value(raw)
        node: Any = cfg
        parts = key.split(".")
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
                holder, slot = node, int(part)
            elif isinstance(node, dict) and part in node:
                holder, slot = node, part
            else:
                known = _all_keys(cfg)
                close = difflib.get_close_matches(key, known, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise ConfigError(f"{source}: unknown key {key!r} in override {item!r}{hint}")
            if last:
                old = holder[slot]
                if not _compatible(old, value):
                    raise ConfigError(
                        f"{source}: override {item!r} gives {type(value).__name__}, but {key} is "
                        f"{type(old).__name__} ({old!r})"
                    )
                if isinstance(value, dict) and not isinstance(value, ConfigDict):
                    value = ConfigDict(value)
                holder[slot] = value
            else:
                node = holder[slot]
        applied.append(f"{key}={value!r}")
    return applied


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Read an mmengine Python config (at most one `_base_` file) and apply strict overrides."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        cfg = Config.fromfile(str(path))
    except Exception as err:
        raise ConfigError(f"{path}: cannot be read as an mmengine config ({err})") from None
    apply_overrides(cfg, overrides, source=str(path))
    return cfg


def check_known_keys(cfg: dict, allowed: Iterable[str], source: str) -> None:
    """Refuse top-level keys outside `allowed` (a typo in a config file is as bad as one in an override)."""
    refuse_unknown([k for k in cfg if not k.startswith("_")], allowed, "config key", source)


def refuse_unknown(names: Iterable[str], known: Iterable[str], what: str, where: str) -> None:
    """A name outside `known` (a typo) is an error naming it and the closest known name; never ignored."""
    known = list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        hints = [
            n + "".join(f" (did you mean {c}?)" for c in difflib.get_close_matches(n, known, n=1)) for n in unknown
        ]
        raise ConfigError(f"{where}: unknown {what}(s) {', '.join(hints)}; known: {', '.join(known)}")
