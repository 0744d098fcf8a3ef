"""Layer-wise lr decay for the detector through the shared `param_groups_lrd` (an mmengine constructor).

`paramwise_cfg=dict(layer_decay=0.7)`: lr = lr * decay^(L + 1 - layer id) for the ViT's parameters (id 0 for
patch / position embedding, i + 1 for block i), the full lr for the pyramid, the FPN and the heads (ViTDet's
`get_vit_lr_decay_rate`, the same exponent scheme as MAE's). `layer_decay=1.0` is the benchmarking recipe
(MIMDet: no decay). No weight decay for 1-D tensors (norms, biases) and the ViT's `no_weight_decay()`
(position embedding, relative position tables). The group table is logged when the optimizer is built.
"""
from __future__ import annotations

from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS
from torch import nn

from mae_backbone.optim import format_param_groups, param_groups_lrd
from mae_backbone.vit import VisionTransformer


def vit_and_prefix(model: nn.Module) -> tuple[VisionTransformer, str]:
    """The detector's ViT and its parameter-name prefix (e.g. "backbone.backbone.")."""
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, VisionTransformer)]
    if len(found) != 1:
        raise TypeError(f"layer-wise lr decay needs exactly one ViT in the detector, found {len(found)}")
    name, vit = found[0]
    return vit, name + "."


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ViTLayerDecayConstructor(DefaultOptimWrapperConstructor):
    def __call__(self, model: nn.Module) -> OptimWrapper:
        model = model.module if is_model_wrapper(model) else model
        vit, prefix = vit_and_prefix(model)
        opt_cfg = dict(self.optimizer_cfg)
        lr, weight_decay = opt_cfg.pop("lr"), opt_cfg.pop("weight_decay", 0.0)
        groups = param_groups_lrd(model, lr, weight_decay, self.paramwise_cfg.get("layer_decay", 1.0),
                                  backbone=vit, backbone_prefix=prefix)
        MMLogger.get_current_instance().info("layer-wise lr decay parameter groups:\n" + format_param_groups(groups))
        optimizer = OPTIMIZERS.build({**opt_cfg, "params": groups, "lr": lr})
        return OPTIM_WRAPPERS.build(dict(self.optim_wrapper_cfg), default_args=dict(optimizer=optimizer))
