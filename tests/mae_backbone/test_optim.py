"""Layer-wise lr decay groups: exact lrs, weight-decay exemptions, prefixes, as seen by the optimizer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mae_backbone import create_vit
from mae_backbone.optim import format_param_groups, param_groups_lrd, simple_param_groups
from tests.conftest import TINY


def lr_of(groups, name):
    return next(g for g in groups if name in g["param_names"])


def test_per_group_lrs_equal_the_formula_exactly():
    model = create_vit("vit_tiny_patch16", img_size=64, num_classes=3, rel_pos_bias=True, **TINY)
    groups = param_groups_lrd(model, base_lr=1e-3, weight_decay=0.05, layer_decay=0.5)
    depth = 4
    assert lr_of(groups, "patch_embed.proj.weight")["lr"] == 1e-3 * 0.5 ** (depth + 1)
    assert lr_of(groups, "cls_token")["lr"] == 1e-3 * 0.5 ** (depth + 1)
    for i in range(depth):
        assert lr_of(groups, f"blocks.{i}.mlp.fc1.weight")["lr"] == 1e-3 * 0.5 ** (depth - i)
    assert lr_of(groups, "head.weight")["lr"] == 1e-3
    assert lr_of(groups, "pos_embed")["weight_decay"] == 0.0
    assert lr_of(groups, "cls_token")["weight_decay"] == 0.0
    assert lr_of(groups, "blocks.0.attn.rel_pos.relative_position_bias_table")["weight_decay"] == 0.0
    assert lr_of(groups, "blocks.0.norm1.weight")["weight_decay"] == 0.0
    assert lr_of(groups, "blocks.0.attn.qkv.bias")["weight_decay"] == 0.0
    assert lr_of(groups, "blocks.0.attn.qkv.weight")["weight_decay"] == 0.05
    names = [n for g in groups for n in g["param_names"]]
    assert sorted(names) == sorted(n for n, _ in model.named_parameters())  # each parameter exactly once


def test_prefixed_backbone_inside_a_bigger_model():
    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = create_vit("vit_tiny_patch16", img_size=64, global_pool="", **TINY)
            self.neck = nn.Conv2d(64, 8, 1)

    model = Wrapped()
    groups = param_groups_lrd(model, 1.0, 0.1, 0.9, backbone=model.backbone, backbone_prefix="backbone.")
    assert lr_of(groups, "backbone.pos_embed")["lr"] == pytest.approx(0.9**5)
    assert lr_of(groups, "backbone.pos_embed")["weight_decay"] == 0.0  # the prefix bug of BEiT/mmseg is absent
    assert lr_of(groups, "backbone.blocks.3.attn.qkv.weight")["lr"] == pytest.approx(0.9)
    assert lr_of(groups, "neck.weight")["lr"] == 1.0


def test_groups_as_used_by_the_optimizer_and_table():
    model = create_vit("vit_tiny_patch16", img_size=64, num_classes=3, **TINY)
    opt = torch.optim.AdamW(param_groups_lrd(model, 2e-3, 0.05, 0.65))
    first = opt.param_groups[0]
    assert first["layer_id"] == 0 and first["lr"] == pytest.approx(2e-3 * 0.65**5)
    table = format_param_groups(opt.param_groups)
    assert "lr range: min" in table and "patch_embed" in table


def test_pretraining_groups_follow_the_official_exemptions():
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    model.register_parameter("tok", nn.Parameter(torch.zeros(1, 1, 4)))
    groups = simple_param_groups(model, 1e-3, 0.05)
    decay = {n for g in groups if g["weight_decay"] for n in g["param_names"]}
    assert decay == {"0.weight", "tok"}  # 3-D tokens decay, biases and norms do not
