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
    spec = model.backbone.feature_spec()
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
    assert set(report.unused_by_design) >= {
        "cls_token",
        "norm.weight",
        "norm.bias",
        "mask_token",
        "decoder_embed.weight",
    }
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


def _optimizer(model, **paramwise):
    from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
    from mmengine.registry import DefaultScope

    from detection import optim  # noqa: F401

    wrapper = dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.1))
    # An earlier test's runner may have left another default scope current (mmengine's scope is global).
    with DefaultScope.overwrite_default_scope("mmdet"):
        ctor = OPTIM_WRAPPER_CONSTRUCTORS.build(
            dict(type="ViTLayerDecayConstructor", optim_wrapper_cfg=wrapper, paramwise_cfg=paramwise)
        )
    opt = ctor(model).optimizer
    lr_of = {id(p): (g["lr"], g["weight_decay"]) for g in opt.param_groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert len(lr_of) == len(named) == sum(len(g["params"]) for g in opt.param_groups)  # each exactly once
    return {n: lr_of[id(p)] for n, p in named.items()}


def test_layer_decay_groups_as_the_optimizer_sees_them():
    model = _detector("protocol='vitdet'")
    lr_wd = _optimizer(model, layer_decay=0.5, no_weight_decay=("norm", "pos_embed"))
    depth = model.backbone.vit.depth  # ids: 0 embeddings, 1..depth blocks, depth + 1 the rest
    bottom = pytest.approx(1e-3 * 0.5 ** (depth + 1))
    assert lr_wd["backbone.backbone.patch_embed.proj.weight"] == (bottom, 0.1)
    assert lr_wd["backbone.backbone.pos_embed"] == (bottom, 0.0)
    for i in range(depth):
        lr, wd = lr_wd[f"backbone.backbone.blocks.{i}.attn.qkv.weight"]
        assert lr == pytest.approx(1e-3 * 0.5 ** (depth - i)) and wd == 0.1
        assert lr_wd[f"backbone.backbone.blocks.{i}.attn.rel_pos_h"][0] == lr
    for name in (
        "backbone.up4.0.weight",
        "neck.lateral.0.conv.weight",
        "roi_head.bbox_head.fc_cls.weight",
        "roi_head.mask_head.conv_logits.weight",
        "rpn_head.rpn_cls.weight",
    ):
        assert lr_wd[name] == (pytest.approx(1e-3), 0.1)


def _torch_norm(module) -> bool:
    """detectron2's `get_default_optimizer_params` norm rule: an instance of one of torch's norm classes."""
    from torch import nn

    return isinstance(
        module,
        (
            nn.BatchNorm1d,
            nn.BatchNorm2d,
            nn.BatchNorm3d,
            nn.SyncBatchNorm,
            nn.GroupNorm,
            nn.InstanceNorm1d,
            nn.InstanceNorm2d,
            nn.InstanceNorm3d,
            nn.LayerNorm,
            nn.LocalResponseNorm,
        ),
    )


def _mimdet_exempt(module, name: str) -> bool:  # weight_decay_norm=0, overrides pos_embed / rel-pos table
    return _torch_norm(module) or name in ("pos_embed", "relative_position_bias_table")


def _vitdet_exempt(module, name: str) -> bool:
    # weight_decay_norm=0 and a pos_embed override; detectron2's channel-first LayerNorm (our LN2d, an
    # nn.LayerNorm subclass here) is not a torch norm class there, so it decays
    from detection.model import LN2d

    return (_torch_norm(module) and not isinstance(module, LN2d)) or name == "pos_embed"


@pytest.mark.parametrize(
    "config, rule",
    [
        ("mask_rcnn_mae_vit_base_1024_100ep.py", _mimdet_exempt),
        ("mask_rcnn_vitdet_mae_vit_base_1024_100ep.py", _vitdet_exempt),
        ("mask_rcnn_vitdet_mae_vit_large_1024_100ep.py", _vitdet_exempt),
        ("mask_rcnn_vitdet_mae_vit_huge_1024_75ep.py", lambda module, name: False),  # H: everything decays
    ],
)
def test_weight_decay_follows_the_reference_rule(config, rule):
    from pathlib import Path

    from mae_backbone.runtime.config import load_config

    paper = load_config(Path(DEMO_CONFIG).parent / config)
    model = _detector(f"protocol={paper.protocol!r}")
    lr_wd = _optimizer(model, layer_decay=1.0, no_weight_decay=tuple(paper.optim.no_weight_decay))
    expected = {
        f"{m}.{n}" if m else n: 0.0 if rule(mod, n) else 0.1
        for m, mod in model.named_modules()
        for n, _ in mod.named_parameters(recurse=False)
    }
    assert {n: wd for n, (_, wd) in lr_wd.items()} == expected
    decayed_biases = [n for n in lr_wd if n.endswith(".bias") and expected[n] == 0.1]
    assert decayed_biases  # none of the three references exempts biases as such


def test_vitdet_backbone_layout_and_exact_load(tmp_path):
    """ViTDet's form: decomposed tables per block under detectron2's key names, zero at the start, pos_embed at the
    pre-training grid; an MAE checkpoint accounts for every key (rel_pos_* new by design) and keeps its grid."""
    mae = create_mae("vit_mini_patch16", img_size=32, **TINY, **TINY_DECODER)
    path = tmp_path / "mae_full.pth"
    torch.save({"model": mae.state_dict()}, path)
    model = _detector("protocol='vitdet'", "model.pretrain_img_size=32", f"model.pretrained={str(path)!r}")
    vit = model.backbone.vit
    assert vit.pos_embed.shape == (1, 2 * 2, 64)  # 32 px grid, no cls slot; the input grid is 4 x 4
    rel = sorted(k for k in vit.state_dict() if ".rel_pos_" in k)
    assert rel == sorted(f"blocks.{i}.attn.rel_pos_{a}" for i in range(4) for a in "hw")
    model.init_weights()
    report = model.backbone.load_report
    assert sorted(report.new_by_design) == rel
    assert set(report.loaded) | set(report.new_by_design) == set(vit.state_dict())
    assert report.resized == ["pos_embed"]  # its cls slot dropped; the 2 x 2 grid kept as it is
    torch.testing.assert_close(vit.pos_embed.detach(), mae.pos_embed.detach()[:, 1:])
    assert all(not vit.state_dict()[k].any() for k in rel)


def test_benchmarking_adapter_init_is_mimdets_lecun_normal():
    """MIMDet's init_adaptor under its timm 0.4.12: N(0, (sqrt(1/fan_in) / 0.8796)^2), the +-2 cut-off never
    reached, zero biases; fan_in as torch computes it (dim 1 x kernel area)."""
    import math

    pyramid = _detector().backbone
    for conv in (pyramid.fpn1[0], pyramid.fpn1[3], pyramid.fpn2):
        w = conv.weight.detach()
        std = math.sqrt(1.0 / (w.shape[1] * 2 * 2)) / 0.87962566103423978
        assert float(w.std()) == pytest.approx(std, rel=0.03) and abs(float(w.mean())) < 0.05 * std
        assert 0.03 < float((w.abs() > 2 * std).float().mean()) < 0.06  # untruncated: 4.6% beyond 2 std
        assert not conv.bias.any()
    torch_init = _detector("model.adapter_init='torch'").backbone.fpn2.weight.detach()
    assert float(torch_init.std()) == pytest.approx(1 / math.sqrt(3 * 64 * 4), rel=0.05)  # torch's default


def test_benchmarking_heads_are_batch_normed_and_become_syncbn():
    """MIMDet's FPN (SyncBN) and box / mask heads (NaiveSyncBN, stats mode N): BN here, converted by the runner's
    `sync_bn="torch"` into torch's SyncBatchNorm, whose statistics weight each process by its sample count."""
    from mmengine.model import convert_sync_batchnorm
    from torch import nn

    model = _detector()
    parts = {"neck": model.neck, "box head": model.roi_head.bbox_head, "mask head": model.roi_head.mask_head}
    for part in parts.values():
        assert any(isinstance(m, nn.BatchNorm2d) for m in part.modules())
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.rpn_head.modules())
    # with accumulation the run warns that those BN layers see the micro-batch; ViTDet's LayerNorms need no warning
    from mae_backbone.pyramid import bn_accumulation_warning

    text = bn_accumulation_warning(model, batch_size=2, world_size=1, global_batch=64, accum=32)
    assert "normalise over 2 images per forward pass" in text and "global batch of 64" in text
    assert bn_accumulation_warning(_detector("protocol='vitdet'"), 2, 1, 64, 32) is None
    converted = convert_sync_batchnorm(model, implementation="torch")
    norms = [m for m in converted.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert norms and all(isinstance(m, nn.SyncBatchNorm) for m in norms)


@pytest.mark.parametrize("protocol", ["benchmarking", "vitdet"])
def test_every_parameter_learns_from_a_real_batch(protocol, demo_world):
    """One Mask R-CNN loss on four demo-world training images (mmdet's own dataset and pipeline): every
    parameter, zero-initialised relative position tables included, gets a non-zero gradient."""
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope

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
