"""The segmentor our configs build: loading, zero relative position bias, derived widths, lr decay, slide test."""

from __future__ import annotations

import pytest
import torch
from mmengine.registry import DefaultScope
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS

from mae_backbone import architecture_of, create_mae, create_vit
from mae_backbone.checkpoint import save_backbone
from mae_backbone.errors import CheckpointError
from mae_backbone.pyramid import load_backbone
from segmentation.build import model_cfg, optim_cfg
from segmentation.model import build_segmentor
from tests.conftest import TINY

from .conftest import seg_cfg


def tiny_segmentor(tmp_path, *overrides: str):
    cfg = seg_cfg(tmp_path, tmp_path, *overrides)
    return build_segmentor(model_cfg(cfg, 11)), cfg


@pytest.fixture(scope="module")
def mae_checkpoint(tmp_path_factory):
    """An MAE (encoder + decoder) trained for nothing, pre-trained at 48 px (3x3 grid): pos_embed must resample."""
    torch.manual_seed(1)
    mae = create_mae("vit_mini_patch16", img_size=48, **TINY)
    path = tmp_path_factory.mktemp("mae") / "backbone.safetensors"
    save_backbone(path, mae.state_dict(), dict(arch_name="vit_mini_patch16", architecture=architecture_of(mae)))
    return path


def test_mae_checkpoint_loads_with_zero_rel_pos_bias_and_unchanged_output(tmp_path, mae_checkpoint):
    seg, _ = tiny_segmentor(tmp_path, f"model.pretrained='{mae_checkpoint}'")
    seg.init_weights()  # what mmengine's runner calls before training
    vit = seg.backbone.vit
    report = seg.backbone.load_report
    tables = [n for n, _ in vit.named_parameters() if n.endswith("relative_position_bias_table")]
    assert len(tables) == vit.depth  # one table per block
    assert sorted(report.new_by_design) == sorted(tables)
    assert report.resized == ["pos_embed"]
    assert any(k.startswith("decoder_") for k in report.unused_by_design) and "norm.weight" in report.unused_by_design
    assert all(float(p.detach().abs().max()) == 0.0 for n, p in vit.named_parameters() if n in tables)

    # The same checkpoint in the same ViT without relative position bias computes the same features.
    plain = create_vit("vit_mini_patch16", img_size=64, global_pool="", **TINY)
    plain.norm = torch.nn.Identity()
    load_backbone(plain, str(mae_checkpoint))
    vit.eval(), plain.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(vit.forward_feature_maps(x, [0, 1, 2, 3]), plain.forward_feature_maps(x, [0, 1, 2, 3])):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_wrong_architecture_checkpoint_is_refused(tmp_path):
    other = create_mae("vit_mini_patch16", img_size=64, embed_dim=32, depth=4, num_heads=2)
    path = save_backbone(tmp_path / "other.safetensors", other.state_dict(), dict(architecture=architecture_of(other)))
    seg, _ = tiny_segmentor(tmp_path, f"model.pretrained='{path}'")
    with pytest.raises(CheckpointError, match="embed_dim"):
        seg.init_weights()


def test_head_widths_come_from_the_backbone(tmp_path):
    seg, cfg = tiny_segmentor(tmp_path)
    width = seg.backbone.vit.embed_dim
    assert [s.stride for s in seg.backbone.feature_spec()] == [4, 8, 16, 32]
    assert seg.decode_head.in_channels == [width] * 4 and seg.decode_head.channels == width
    assert seg.auxiliary_head.in_channels == width and seg.auxiliary_head.in_index == 2
    assert seg.decode_head.num_classes == 11 and len(seg.decode_head.psp_modules) == 4
    assert seg.backbone.vit.blocks[0].attn.rel_pos.window == (4, 4)  # the 64 px crop's patch grid
    assert isinstance(seg.backbone.vit.norm, torch.nn.Identity)  # unused by dense heads: not a parameter


def test_layer_decay_groups(tmp_path):
    seg, cfg = tiny_segmentor(tmp_path, "optim.lr=1e-3", "optim.layer_decay=0.5")
    wrapper_cfg = optim_cfg(cfg, dict(type="OptimWrapper"))
    with DefaultScope.overwrite_default_scope("mmseg"):
        constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
            dict(
                type=wrapper_cfg.pop("constructor"),
                paramwise_cfg=wrapper_cfg.pop("paramwise_cfg"),
                optim_wrapper_cfg=wrapper_cfg,
            )
        )
        optimizer = constructor(seg).optimizer
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.defaults["fused"]  # one kernel for all groups
    groups = optimizer.param_groups
    by_name = {n: g for g in groups for n in g["param_names"]}
    depth = seg.backbone.vit.depth
    assert set(by_name) == {n for n, p in seg.named_parameters() if p.requires_grad}
    assert by_name["backbone.backbone.patch_embed.proj.weight"]["lr"] == pytest.approx(1e-3 * 0.5 ** (depth + 1))
    assert by_name["backbone.backbone.blocks.0.mlp.fc1.weight"]["lr"] == pytest.approx(1e-3 * 0.5**depth)
    assert by_name[f"backbone.backbone.blocks.{depth - 1}.mlp.fc1.weight"]["lr"] == pytest.approx(1e-3 * 0.5)
    for top in ("backbone.fpn1.0.weight", "decode_head.conv_seg.weight", "auxiliary_head.conv_seg.weight"):
        assert by_name[top]["lr"] == pytest.approx(1e-3)
    # No weight decay on position embedding, cls token, relative-position tables, norms and biases.
    for name in (
        "backbone.backbone.pos_embed",
        "backbone.backbone.cls_token",
        "backbone.backbone.blocks.0.attn.rel_pos.relative_position_bias_table",
        "backbone.backbone.blocks.0.norm1.weight",
        "decode_head.conv_seg.bias",
    ):
        assert by_name[name]["weight_decay"] == 0.0
    assert by_name["backbone.backbone.blocks.0.attn.qkv.weight"]["weight_decay"] == cfg["optim"]["weight_decay"]


def test_slide_inference_covers_every_pixel_with_crop_sized_windows(tmp_path):
    """mmseg's slide_inference averages overlapping windows by its count matrix. With a per-pixel stand-in
    for the network (the image's own channels as logits), the slid result must equal that per-pixel map
    everywhere: every pixel covered, each divided by exactly the number of windows that saw it."""
    seg, cfg = tiny_segmentor(tmp_path)
    h, w = 150, 100  # not multiples of the stride: the last windows are shifted back inside the image
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    image = torch.stack([ys, xs, ys * w + xs])[None]
    windows = []

    def per_pixel(crop, metas):
        windows.append((int(crop[0, 0, 0, 0]), int(crop[0, 1, 0, 0]), *crop.shape[-2:]))
        return crop[:, [2] * seg.num_classes]

    seg.encode_decode = per_pixel
    out = seg.slide_inference(image, [dict(img_shape=(h, w))])
    torch.testing.assert_close(out[0, 0], image[0, 2])
    crop, stride = cfg["test"]["crop_size"], cfg["test"]["stride"]
    assert all((ch, cw) == (crop, crop) for _, _, ch, cw in windows)  # = the relative-position window
    count = torch.zeros(h, w)
    for y, x, ch, cw in windows:
        count[y : y + ch, x : x + cw] += 1
    assert count.min() >= 1
    n_rows, n_cols = -(-(h - crop) // stride) + 1, -(-(w - crop) // stride) + 1
    assert len(windows) == n_rows * n_cols and len(set(windows)) == len(windows)


def test_official_mae_pth_checkpoint_loads(tmp_path):
    """The official release format: a .pth holding {'model': encoder + decoder state dict}, weights-only."""
    mae = create_mae("vit_mini_patch16", img_size=64, **TINY)
    path = tmp_path / "mae_pretrain_vit_tiny.pth"
    torch.save({"model": mae.state_dict()}, path)
    seg, _ = tiny_segmentor(tmp_path, f"model.pretrained='{path}'")
    seg.init_weights()
    vit = seg.backbone.vit
    torch.testing.assert_close(vit.blocks[3].mlp.fc2.weight, mae.blocks[3].mlp.fc2.weight)
    torch.testing.assert_close(vit.pos_embed, mae.pos_embed)  # same 64 px grid: nothing resampled
    assert seg.backbone.load_report.resized == []


def test_bn_under_accumulation_warns_naming_the_bn_batch(tmp_path):
    """1 GPU at batch 2 accumulating to the recipe's 16: BN sees 2 images, the reference's SyncBN 16."""
    from mmengine.model import convert_sync_batchnorm

    from mae_backbone.pyramid import bn_accumulation_warning

    seg, _ = tiny_segmentor(tmp_path)
    bns = sum(isinstance(m, torch.nn.BatchNorm2d) for m in seg.modules())
    text = bn_accumulation_warning(seg, batch_size=2, world_size=1, global_batch=16, accum=8)
    assert text == (
        f"BatchNorm under gradient accumulation: the {bns} BatchNorm layers normalise over 2 images per forward pass "
        "(the per-process micro-batch of 2), not over the recipe's global batch of 16 (the reference's SyncBN spans "
        "all 16 images of a step); 8 micro-batches are accumulated per optimizer step. BN statistics, and so the "
        "results, can differ from the reference's; to match, run 8 GPU processes of 2 (SyncBN) or a per-process "
        "batch of 16."
    )
    # 2 GPUs with SyncBN: the BN batch is both processes' micro-batches
    synced = bn_accumulation_warning(convert_sync_batchnorm(seg), batch_size=2, world_size=2, global_batch=16, accum=4)
    assert "normalise over 4 images per forward pass (2 per process x 2 processes, SyncBN)" in synced
    assert bn_accumulation_warning(seg, batch_size=2, world_size=8, global_batch=16, accum=1) is None  # the recipe
