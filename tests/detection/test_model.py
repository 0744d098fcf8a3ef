"""The detection backbones' contract: output strides and channels, attention layout, exact checkpoint loading,
neck widths from the backbone, and layer-wise lr decay as the optimizer sees it."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from mae_backbone import create_mae
from mae_backbone.errors import CheckpointError
from tests.conftest import TINY, TINY_DECODER
from tests.detection.conftest import DEMO_CONFIG, TINY_OVERRIDES

pytest.importorskip("mmdet")


def _cfg(*overrides: str) -> dict:
    from mae_backbone.runtime.config import load_config

    return load_config(DEMO_CONFIG, [*TINY_OVERRIDES, *overrides]).to_dict()


def _detector(*overrides: str):
    from detection.build import model_cfg
    from detection.model import build_detector

    return build_detector(model_cfg(_cfg(*overrides), num_classes=6))


@pytest.mark.parametrize("protocol, channels", [("benchmarking", [64, 64, 64, 64]), ("vitdet", [16, 32, 64, 64])])
def test_pyramid_strides_and_channels(protocol, channels):
    model = _detector(f"protocol={protocol!r}")
    spec = model.backbone.feature_spec
    assert [s.stride for s in spec] == [4, 8, 16, 32]
    assert [s.channels for s in spec] == channels  # C for benchmarking; C/4, C/2, C, C for ViTDet
    maps = model.backbone(torch.randn(2, 3, 64, 64))
    assert [tuple(m.shape) for m in maps] == [(2, c, 64 // s.stride, 64 // s.stride) for c, s in zip(channels, spec)]
    # the neck was sized from the backbone instance, and gives p2..p6 at 32 channels
    lateral = model.neck.lateral_convs if protocol == "benchmarking" else model.neck.lateral
    assert [m.conv.in_channels for m in lateral] == channels
    feats = model.extract_feat(torch.randn(2, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in feats] == [(32, 16, 16), (32, 8, 8), (32, 4, 4), (32, 2, 2), (32, 1, 1)]


def test_benchmarking_attention_layout():
    backbone = _detector("model.vit={'embed_dim': 64, 'depth': 8, 'num_heads': 2}").backbone
    vit = backbone.vit
    assert backbone.out_indices == [1, 3, 5, 7]  # the block closing each of four equal groups
    windows = [blk.window_size for blk in vit.blocks]
    assert windows == [2, 0, 2, 0, 2, 0, 2, 0]  # global attention exactly in the group-closing blocks
    tables = [blk.attn.relative_position_bias_table for blk in vit.blocks]
    assert all(t is not None and not t.any() for t in tables)  # zero-initialised relative position bias
    assert vit.cls_token is None and vit.pos_embed.shape[1] == (64 // 16) ** 2


def test_loads_full_mae_checkpoint_with_exact_report(tmp_path):
    mae = create_mae("vit_mini_patch16", img_size=32, **TINY, **TINY_DECODER)  # pre-trained at another size
    path = tmp_path / "mae_full.pth"
    torch.save({"model": mae.state_dict()}, path)  # the official layout: encoder + decoder under "model"
    model = _detector(f"model.pretrained={str(path)!r}")
    model.init_weights()
    report = model.backbone.load_report
    vit = model.backbone.vit
    assert set(report.unused_by_design) >= {"cls_token", "norm.weight", "norm.bias", "mask_token",
                                            "decoder_embed.weight"}
    assert report.new_by_design == sorted(k for k in vit.state_dict() if k.endswith("relative_position_bias_table"))
    assert report.resized == ["pos_embed"]  # 2x2 + cls -> 4x4 grid, cls slot dropped
    assert set(report.loaded) | set(report.new_by_design) == set(vit.state_dict())
    torch.testing.assert_close(vit.blocks[3].mlp.fc2.weight, mae.blocks[3].mlp.fc2.weight)
    torch.testing.assert_close(vit.patch_embed.proj.weight, mae.patch_embed.proj.weight)


def test_refuses_a_checkpoint_of_another_width(tmp_path):
    mae = create_mae("vit_mini_patch16", img_size=64, embed_dim=32, depth=4, num_heads=2, **TINY_DECODER)
    path = tmp_path / "other.pth"
    torch.save(mae.state_dict(), path)
    model = _detector(f"model.pretrained={str(path)!r}")
    with pytest.raises(CheckpointError, match="disagree in shape"):
        model.init_weights()


def test_layer_decay_groups_as_the_optimizer_sees_them():
    from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
    from mmengine.registry import DefaultScope

    from detection import optim  # noqa: F401

    model = _detector("protocol='vitdet'")
    wrapper = dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.1))
    # An earlier test's runner may have left another default scope current (mmengine's scope is global).
    with DefaultScope.overwrite_default_scope("mmdet"):
        ctor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(type="ViTLayerDecayConstructor", optim_wrapper_cfg=wrapper,
                                                     paramwise_cfg=dict(layer_decay=0.5)))
    opt = ctor(model).optimizer
    lr_of = {id(p): (g["lr"], g["weight_decay"]) for g in opt.param_groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert len(lr_of) == len(named) == sum(len(g["params"]) for g in opt.param_groups)  # each exactly once
    depth = model.backbone.vit.depth  # ids: 0 embeddings, 1..depth blocks, depth + 1 the rest
    bottom = pytest.approx(1e-3 * 0.5 ** (depth + 1))
    assert lr_of[id(named["backbone.backbone.patch_embed.proj.weight"])] == (bottom, 0.1)
    assert lr_of[id(named["backbone.backbone.pos_embed"])] == (bottom, 0.0)
    for i in range(depth):
        lr, wd = lr_of[id(named[f"backbone.backbone.blocks.{i}.attn.qkv.weight"])]
        assert lr == pytest.approx(1e-3 * 0.5 ** (depth - i)) and wd == 0.1
        assert lr_of[id(named[f"backbone.backbone.blocks.{i}.attn.rel_pos.relative_position_bias_table"])][1] == 0.0
    for name in ("backbone.up4.0.weight", "neck.lateral.0.conv.weight", "roi_head.bbox_head.fc_cls.weight",
                 "roi_head.mask_head.conv_logits.weight", "rpn_head.rpn_cls.weight"):
        assert lr_of[id(named[name])] == (pytest.approx(1e-3), 0.1)
    assert lr_of[id(named["roi_head.bbox_head.fc_cls.bias"])][1] == 0.0


@pytest.mark.parametrize("protocol", ["benchmarking", "vitdet"])
def test_every_parameter_learns_from_a_real_batch(protocol, demo_world):
    """One Mask R-CNN loss on four demo-world training images (mmdet's own dataset and pipeline): every
    parameter, zero-initialised relative position tables included, gets a non-zero gradient."""
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope
    from mmdet.registry import DATASETS

    from detection.build import dataset_cfg, pipelines
    from detection.data import prepare_split

    # The real training pipeline at scale 1 (large-scale jitter at 0.1 may leave a crop without any object
    # big enough for a positive anchor, and then the RPN's box regression rightly gets no gradient).
    jitter_off = "data.scale_range=(1.0, 1.0)"
    cfg = _cfg(f"protocol={protocol!r}", jitter_off)
    split = prepare_split(demo_world["coco"], "train2017", 6)
    with DefaultScope.overwrite_default_scope("mmdet"):
        dataset = DATASETS.build(dataset_cfg(split, pipelines(cfg)[0], train=True))
        model = _detector(f"protocol={protocol!r}", jitter_off)
        model.train()
        # four images that keep objects, flips seeded: with a single object, the L1 box-regression gradients
        # of its two or three positive RoIs can cancel exactly in a bias, which says nothing about the wiring
        np.random.seed(0)
        random.seed(0)
        samples = [s for s in map(dataset.__getitem__, range(len(dataset))) if len(s["data_samples"].gt_instances)]
        assert len(samples) >= 4
        batch = model.data_preprocessor(pseudo_collate(samples[:4]), training=True)
        losses = model.loss(batch["inputs"], batch["data_samples"])
    loss, _ = model.parse_losses(losses)
    loss.backward()
    assert torch.isfinite(loss)
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not no_grad
