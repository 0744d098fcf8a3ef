"""Layer-wise lr decay (BEiT / MAE fine-tuning) as explicit parameter groups with absolute lrs.

Each group carries its absolute `lr` (not only an `lr_scale` that a generic scheduler would ignore,
user pain B9), its `weight_decay`, its `layer_id` and the parameter names, so the optimizer and the
printed table say exactly what is trained how. Schedulers then scale every group's initial lr.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from torch import nn


def param_groups_lrd(
    model: nn.Module,
    base_lr: float,
    weight_decay: float = 0.05,
    layer_decay: float = 0.75,
    backbone: nn.Module | None = None,
    backbone_prefix: str = "",
    no_weight_decay: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Group `model`'s trainable parameters by (layer id, decay?) with lr = base_lr * decay^(L + 1 - id).

    Args:
        backbone: the ViT whose `layer_id` / `num_layers` define the ids; defaults to `model`.
            Parameters outside `backbone_prefix` (necks, heads) get the top id, i.e. the full lr.
        no_weight_decay: extra parameter names (full names in `model`) exempt from weight decay; 1-D
            parameters (norms, biases) and the backbone's `no_weight_decay()` names are always exempt.
    """
    backbone = model if backbone is None else backbone
    num_layers = backbone.num_layers
    exempt = set(no_weight_decay) | {backbone_prefix + n for n in backbone.no_weight_decay()}
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if backbone_prefix and not name.startswith(backbone_prefix):
            layer = num_layers
        else:
            layer = backbone.layer_id(name[len(backbone_prefix) :])
        decay = not (param.ndim <= 1 or name in exempt)
        scale = layer_decay ** (num_layers - layer)
        group = groups.setdefault(
            (layer, decay),
            {
                "params": [],
                "param_names": [],
                "layer_id": layer,
                "lr_scale": scale,
                "lr": base_lr * scale,
                "weight_decay": weight_decay if decay else 0.0,
            },
        )
        group["params"].append(param)
        group["param_names"].append(name)
    return [groups[k] for k in sorted(groups)]


def simple_param_groups(
    model: nn.Module, lr: float, weight_decay: float, is_exempt: Callable[[str, nn.Parameter], bool] | None = None
) -> list[dict[str, Any]]:
    """Two groups, decay / no decay. Default exemption = 1-D parameters and biases (official pre-training:
    `cls_token`/`mask_token` are 3-D and do get weight decay; `pos_embed` is frozen)."""
    is_exempt = is_exempt or (lambda n, p: p.ndim <= 1 or n.endswith(".bias"))
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if is_exempt(name, p) else decay).append((name, p))
    return [
        {
            "params": [p for _, p in grp],
            "param_names": [n for n, _ in grp],
            "lr": lr,
            "weight_decay": wd,
            "layer_id": -1,
            "lr_scale": 1.0,
        }
        for grp, wd in ((decay, weight_decay), (no_decay, 0.0))
        if grp
    ]


def format_param_groups(groups: list[dict[str, Any]]) -> str:
    """A table of the groups: layer id, lr, weight decay, number of tensors and parameters, examples."""
    rows = ["layer  lr          wd      tensors  params      examples"]
    for g in groups:
        n = sum(p.numel() for p in g["params"])
        names = g.get("param_names", [])
        ex = ", ".join(names[:2]) + (f", … (+{len(names) - 2})" if len(names) > 2 else "")
        rows.append(
            f"{g['layer_id']:>5}  {g['lr']:<10.4g}  {g['weight_decay']:<6.3g}  {len(g['params']):>7}  {n:>10,}  {ex}"
        )
    lrs = [g["lr"] for g in groups]
    rows.append(f"lr range: min {min(lrs):.4g}, max {max(lrs):.4g} over {len(groups)} groups")
    return "\n".join(rows)
