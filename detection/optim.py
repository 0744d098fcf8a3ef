"""Layer-wise lr decay and the weight-decay rule of each detection recipe, through the shared `param_groups_lrd`.

`paramwise_cfg=dict(layer_decay=0.7, no_weight_decay=("norm", "pos_embed"))`: lr = lr * decay^(L + 1 - layer id)
for the ViT's parameters (id 0 for patch / position embedding, i + 1 for block i), the full lr for the pyramid,
the FPN and the heads (ViTDet's `get_vit_lr_decay_rate`, the same exponent scheme as MAE's). `layer_decay=1.0`
is the benchmarking recipe (MIMDet: no decay). `no_weight_decay` names what is exempt from weight decay, by
kind (`WD_EXEMPT_KINDS`), because the references differ (anchors.md 2.1, 2.2), all through detectron2's
`get_default_optimizer_params`:
- MIMDet (benchmarking): `weight_decay_norm=0` + overrides for `pos_embed` and `relative_position_bias_table`:
  ("norm", "pos_embed", "rel_pos"); biases decay.
- ViTDet-B/L: `weight_decay_norm=0` + `pos_embed`: ("norm", "pos_embed"). detectron2's norm rule matches torch's
  norm classes only, so its channel-first LayerNorm (our `LN2d`, in the simple pyramid, the FPN and the heads),
  the biases and `rel_pos_h` / `rel_pos_w` decay.
- ViTDet-H: `weight_decay_norm=None`, no overrides: () -- everything decays.
The group table is logged when the optimizer is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from torch import nn

from mae_backbone.errors import ConfigError
from mae_backbone.optim import format_param_groups, param_groups_lrd
from mae_backbone.vit import REL_POS_SUFFIXES, VisionTransformer

from .model import LN2d

# torch's norm classes, as detectron2's `get_default_optimizer_params` lists them (SyncBN is a _BatchNorm).
TORCH_NORMS = (
    nn.modules.batchnorm._BatchNorm,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.LocalResponseNorm,
)
WD_EXEMPT_KINDS = {
    "norm": "parameters of torch norm layers (BN / SyncBN, GN, the ViT's LayerNorms), LN2d excepted",
    "ln2d": "parameters of LN2d, the channel-first LayerNorm of ViTDet's pyramid, neck and heads",
    "pos_embed": "the absolute position embedding",
    "rel_pos": "relative-position tables (BEiT's bias table, ViTDet's rel_pos_h / rel_pos_w)",
    "bias": "every bias",
    "1d": "every tensor with at most one dimension (norms and biases; MAE fine-tuning's rule)",
}
MIMDET_NO_WD = ("norm", "pos_embed", "rel_pos")


def vit_and_prefix(model: nn.Module) -> tuple[VisionTransformer, str]:
    """The detector's ViT and its parameter-name prefix (e.g. "backbone.backbone.")."""
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, VisionTransformer)]
    if len(found) != 1:
        raise TypeError(f"layer-wise lr decay needs exactly one ViT in the detector, found {len(found)}")
    name, vit = found[0]
    return vit, name + "."


def weight_decay_exempt(model: nn.Module, kinds: Iterable[str]) -> set[str]:
    """Names of the parameters of `model` that the listed kinds exempt from weight decay."""
    kinds = set(kinds)
    unknown = kinds - set(WD_EXEMPT_KINDS)
    if unknown:
        raise ConfigError(
            f"optim.no_weight_decay: unknown kind(s) {sorted(unknown)}; known: "
            + "; ".join(f"{k} = {v}" for k, v in WD_EXEMPT_KINDS.items())
        )
    exempt = set()
    for mod_name, module in model.named_modules():
        is_ln2d = isinstance(module, LN2d)
        in_norm = ("ln2d" in kinds and is_ln2d) or ("norm" in kinds and isinstance(module, TORCH_NORMS) and not is_ln2d)
        for p_name, p in module.named_parameters(recurse=False):
            name = f"{mod_name}.{p_name}" if mod_name else p_name
            if (
                in_norm
                or ("pos_embed" in kinds and p_name == "pos_embed")
                or ("rel_pos" in kinds and name.endswith(REL_POS_SUFFIXES))
                or ("bias" in kinds and p_name == "bias")
                or ("1d" in kinds and p.ndim <= 1)
            ):
                exempt.add(name)
    return exempt


def regroup_weight_decay(groups: list[dict[str, Any]], exempt: set[str], weight_decay: float) -> list[dict[str, Any]]:
    """The same parameters, layer ids and lrs, split by (layer id, decays?) under the exemption set."""
    out: dict[tuple[int, bool], dict[str, Any]] = {}
    for g in groups:
        for name, param in zip(g["param_names"], g["params"]):
            decay = name not in exempt
            group = out.setdefault(
                (g["layer_id"], decay),
                {
                    "params": [],
                    "param_names": [],
                    "layer_id": g["layer_id"],
                    "lr_scale": g["lr_scale"],
                    "lr": g["lr"],
                    "weight_decay": weight_decay if decay else 0.0,
                },
            )
            group["params"].append(param)
            group["param_names"].append(name)
    return [out[k] for k in sorted(out)]


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ViTLayerDecayConstructor(DefaultOptimWrapperConstructor):
    def __call__(self, model: nn.Module) -> OptimWrapper:
        model = model.module if is_model_wrapper(model) else model
        vit, prefix = vit_and_prefix(model)
        opt_cfg = dict(self.optimizer_cfg)
        lr, weight_decay = opt_cfg.pop("lr"), opt_cfg.pop("weight_decay", 0.0)
        groups = param_groups_lrd(
            model, lr, weight_decay, self.paramwise_cfg.get("layer_decay", 1.0), backbone=vit, backbone_prefix=prefix
        )
        exempt = weight_decay_exempt(model, self.paramwise_cfg.get("no_weight_decay", MIMDET_NO_WD))
        groups = regroup_weight_decay(groups, exempt, weight_decay)
        MMLogger.get_current_instance().info("layer-wise lr decay parameter groups:\n" + format_param_groups(groups))
        optimizer = OPTIMIZERS.build({**opt_cfg, "params": groups, "lr": lr})
        return OPTIM_WRAPPERS.build(dict(self.optim_wrapper_cfg), default_args=dict(optimizer=optimizer))
