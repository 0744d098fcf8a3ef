"""Checkpoint I/O: read every MAE checkpoint family safely, convert key layouts, load with an exact report.

Our format is `NAME.safetensors` (tensors only) plus `NAME.json` (architecture, image size, provenance,
format version). Legacy `.pth` files are read with `weights_only=True`; the only non-tensor type the
official MAE checkpoints carry, `argparse.Namespace` under 'args', is allow-listed explicitly.
Loading never relies on `strict=False` silence: every key ends up in exactly one bucket of a
`LoadReport`, and unexpected gaps or shape disagreements raise `CheckpointError`.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import CheckpointError
from .fileio import atomic_write, atomic_write_json
from .keymaps import convert_state_dict
from .pos_embed import resample_pos_embed
from .vit import REL_POS_SUFFIXES

FORMAT_VERSION = 1
# Keys a transfer model may lack on purpose: the pre-training decoder, the final norm of global-pool
# fine-tuning, the cls token of cls-free dense backbones, and a classifier that is re-initialised.
UNUSED_BY_DESIGN = ("mask_token", "decoder_*", "norm.*", "cls_token", "head.*", "fc_norm.*")
# Keys of a transfer model that no MAE checkpoint holds: the zero-initialised relative positions (BEiT's bias
# table, ViTDet's decomposed `rel_pos_h` / `rel_pos_w`), which MAE pre-training does not have.
RELATIVE_POSITION_NEW = tuple(f"*{suffix}" for suffix in REL_POS_SUFFIXES)
# Keys a transfer model has that no MAE checkpoint provides: new heads and zero-init relative position.
NEW_BY_DESIGN = ("head.*", "fc_norm.*", *RELATIVE_POSITION_NEW)


@dataclass
class LoadReport:
    source: str
    layout: str
    loaded: list[str] = field(default_factory=list)
    new_by_design: list[str] = field(default_factory=list)
    unused_by_design: list[str] = field(default_factory=list)
    resized: list[str] = field(default_factory=list)
    reinitialised: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"checkpoint {self.source} (layout: {self.layout})", f"  loaded: {len(self.loaded)} tensors"]
        for title, keys in (
            ("new by design", self.new_by_design),
            ("unused by design", self.unused_by_design),
            ("resized", self.resized),
            ("re-initialised (shape differs)", self.reinitialised),
        ):
            if keys:
                lines.append(f"  {title}: {_compact(keys)}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _compact(keys: list[str], limit: int = 8) -> str:
    keys = sorted(keys)
    more = f" … (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def _matches(key: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def _unreadable(path: Path, err: Exception) -> CheckpointError:
    """Why torch.load failed, in words: torch says `KeyError: 105` for a text file and fails on an empty one."""
    with open(path, "rb") as f:
        head = f.read(2)
    is_zip = zipfile.is_zipfile(path)
    if not head:
        return CheckpointError(f"{path}: empty file (0 bytes); the download or copy did not finish: fetch it again")
    if head == b"PK" and not is_zip:  # torch.save writes a zip; its directory sits at the very end
        return CheckpointError(
            f"{path}: truncated (a zip without its end); the download or copy did not finish: fetch it again"
        )
    if not is_zip and head[:1] != b"\x80":  # nor a pickle (protocol 2+), torch's legacy format
        return CheckpointError(
            f"{path}: not a PyTorch checkpoint (neither a torch.save zip nor a pickle); check the path"
        )
    first = (str(err).splitlines() or [type(err).__name__])[0]
    return CheckpointError(
        f"{path}: cannot be read as a weights-only checkpoint ({first}). maebench never unpickles arbitrary "
        "objects; if you trust the file, re-save its state_dict with torch.save(sd, 'clean.pth') and pass that"
    )


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read tensors and metadata from our safetensors format or a legacy .pth/.pt/.bin (weights only)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            tensors = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as err:
            raise CheckpointError(
                f"{path}: not a readable safetensors file ({err}); re-export or re-convert it"
            ) from None
        return tensors, read_sidecar(path)
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a pickle with other globals, a truncated file, not a checkpoint at all
        raise _unreadable(path, err) from None
    meta: dict[str, Any] = {}
    if isinstance(obj, dict) and isinstance(obj.get("args"), argparse.Namespace):
        meta["pretrain_args"] = {k: v for k, v in vars(obj["args"]).items() if isinstance(v, (int, float, str, bool))}
    for wrapper in ("model", "state_dict", "module"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: holds no state_dict of tensors (found {type(obj).__name__})")
    return obj, meta


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """The JSON sidecar beside checkpoint `path` ({} when there is none), refused if it is not valid JSON or
    of a newer format version. The one reader of sidecars: checkpoint loading and the suite's arch lookup."""
    sidecar = Path(path).with_suffix(".json")
    if not sidecar.is_file():
        return {}
    try:
        meta = json.loads(sidecar.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{sidecar}: sidecar is not valid JSON ({err}); restore it or delete it") from None
    version = meta.get("format_version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{sidecar}: checkpoint format version {version} is newer than this maebench understands "
            f"({FORMAT_VERSION}); upgrade maebench"
        )
    return meta


def save_backbone(path: str | Path, state_dict: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """Write tensors as safetensors and `meta` as the JSON sidecar, each atomically."""
    from safetensors.torch import save_file

    path = Path(path).with_suffix(".safetensors")
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp))
    atomic_write_json(path.with_suffix(".json"), {**meta, "format_version": FORMAT_VERSION})
    return path


def load_into(
    model: nn.Module,
    state_dict: dict[str, torch.Tensor],
    source: str = "<memory>",
    layout: str = "maebench",
    new_by_design: Iterable[str] = NEW_BY_DESIGN,
    unused_by_design: Iterable[str] = UNUSED_BY_DESIGN,
    head: str = "reinit",
) -> LoadReport:
    """Load `state_dict` into `model`; every key is accounted for or `CheckpointError` is raised.

    Args:
        new_by_design / unused_by_design: fnmatch patterns of keys the model may lack / the file may hold.
        head: "reinit" re-initialises a classifier whose shape differs (with a notice in the report);
            "require" refuses (use it when evaluating a fine-tuned classifier).
    """
    report = LoadReport(source=source, layout=layout)
    target = model.state_dict()
    new_by_design, unused_by_design = tuple(new_by_design), tuple(unused_by_design)
    to_load: dict[str, torch.Tensor] = {}
    mismatched = []
    for key, value in state_dict.items():
        if key not in target:
            if _matches(key, unused_by_design):
                report.unused_by_design.append(key)
                continue
            raise CheckpointError(_unexpected_message(source, [k for k in state_dict if k not in target]))
        if value.shape != target[key].shape:
            if key == "pos_embed" or key.endswith(".pos_embed"):
                value = _fit_pos_embed(value, target[key], model)
                report.resized.append(key)
            elif key.startswith(("head.", "fc_norm.")) and head == "reinit":
                report.reinitialised.append(key)
                continue
            else:
                mismatched.append(f"{key}: checkpoint {tuple(value.shape)} vs model {tuple(target[key].shape)}")
                continue
        to_load[key] = value
    if mismatched:
        raise CheckpointError(
            f"{source}: {len(mismatched)} tensors disagree in shape with the model ({'; '.join(mismatched[:4])}). "
            "The checkpoint is probably for another architecture: set the matching arch= (--arch for `maebench "
            "convert`), or pick a matching checkpoint"
        )
    missing = [k for k in target if k not in to_load]
    unexplained = [k for k in missing if not _matches(k, new_by_design) and k not in report.reinitialised]
    if unexplained:
        raise CheckpointError(
            f"{source}: the model needs {len(unexplained)} tensors the checkpoint lacks ({_compact(unexplained, 5)}). "
            "Refusing to train from a half-random backbone: check the architecture and the checkpoint family "
            "(encoder-only checkpoints have no decoder; fine-tuned ones have no final norm)"
        )
    report.new_by_design = [k for k in missing if k not in report.reinitialised]
    result = model.load_state_dict(to_load, strict=False)
    # The exact-key assertion of the official fine-tuning code, made total.
    # (BatchNorm fills an absent `num_batches_tracked` itself, so torch does not list it as missing.)
    tracked = {k for k in missing if k.endswith("num_batches_tracked")}
    assert set(result.missing_keys) | tracked == set(missing), (result.missing_keys, missing)
    assert not result.unexpected_keys, result.unexpected_keys
    report.loaded = sorted(to_load)
    return report


def _unexpected_message(source: str, keys: list[str]) -> str:
    return (
        f"{source}: holds {len(keys)} tensors this model has no place for ({_compact(keys, 5)}). "
        "It is probably a checkpoint of another kind of model; convert it with `maebench convert` "
        "or pick the matching architecture"
    )


def _fit_pos_embed(value: torch.Tensor, target: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """Bicubic resample to the model's grid; drop the checkpoint's cls slot if the model has no cls token."""
    model_prefix = getattr(model, "num_prefix_tokens", 1)
    ckpt_tokens = value.shape[1]
    side = int(round((ckpt_tokens - 1) ** 0.5))
    ckpt_prefix = 1 if side * side == ckpt_tokens - 1 else 0
    grid = getattr(model, "grid", None)
    if grid is None:
        n = target.shape[1] - model_prefix
        grid = (int(round(n**0.5)),) * 2
    value = resample_pos_embed(value, tuple(grid), None, ckpt_prefix)
    if ckpt_prefix > model_prefix:
        value = value[:, ckpt_prefix - model_prefix :]
    return value


@dataclass
class Checkpoint:
    """A checkpoint read and converted to our key layout, not yet loaded into a model: what a caller that
    must look at the tensors before building the model (the classifier's head, `maebench convert`) holds."""

    path: str
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]
    layout: str

    def load(self, model: nn.Module, **kwargs: Any) -> LoadReport:
        """Check the sidecar's architecture against `model`, then `load_into` it (kwargs: load_into's)."""
        _check_architecture(model, self.meta, self.path)
        return load_into(model, self.tensors, source=self.path, layout=self.layout, **kwargs)


def open_checkpoint(path: str | Path) -> Checkpoint:
    """Read any supported checkpoint (weights only) and convert its key layout to ours."""
    tensors, meta = read_checkpoint(path)
    tensors, layout = convert_state_dict(tensors)
    return Checkpoint(str(path), tensors, meta, layout)


def load_checkpoint(model: nn.Module, path: str | Path, **kwargs: Any) -> LoadReport:
    """Read any supported checkpoint, convert its layout to ours, check its architecture and load it with a
    full report: the one path from a file to a model (read -> convert keys -> check architecture -> load)."""
    return open_checkpoint(path).load(model, **kwargs)


def _check_architecture(model: nn.Module, meta: dict[str, Any], path: str | Path) -> None:
    arch = meta.get("architecture")
    if not arch:
        return
    name = meta.get("arch_name", "<the checkpoint's architecture>")
    for key in ("patch_size", "embed_dim", "depth"):
        mine = getattr(model, key, None)
        if mine is not None and key in arch and arch[key] != mine:
            raise CheckpointError(
                f"{path}: checkpoint architecture has {key}={arch[key]}, the model has {key}={mine}; "
                f"set arch={name} (the checkpoint's) or pick another checkpoint"
            )
