"""Checkpoint reading, layout conversion and the exact-key load report."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from mae_backbone import create_mae, create_vit
from mae_backbone.checkpoint import FORMAT_VERSION, load_checkpoint, read_checkpoint, save_backbone
from mae_backbone.errors import CheckpointError
from mae_backbone.keymaps import convert_state_dict
from tests.conftest import TINY, TINY_DECODER


@pytest.fixture
def mae():
    return create_mae("vit_tiny_patch16", img_size=64, **TINY, **TINY_DECODER)


def official_full(tmp_path, mae):
    """An official-style `_full` checkpoint: {'model': sd, 'args': Namespace, 'epoch': ...}."""
    path = tmp_path / "mae_pretrain_full.pth"
    torch.save(
        {"model": mae.state_dict(), "args": argparse.Namespace(blr=1.5e-4, model="mae_vit_tiny"), "epoch": 1599}, path
    )
    return path


def to_mmpretrain(sd):
    """Rename our keys the way mmpretrain's MAE stores them (independent of keymaps.py)."""
    out = {}
    for k, v in sd.items():
        k2 = k
        if k.startswith("blocks."):
            k2 = "backbone.layers." + k[len("blocks.") :]
            k2 = k2.replace(".norm1.", ".ln1.").replace(".norm2.", ".ln2.")
            k2 = k2.replace(".mlp.fc1.", ".ffn.layers.0.0.").replace(".mlp.fc2.", ".ffn.layers.1.")
        elif k.startswith("decoder_blocks."):
            k2 = "neck." + k.replace(".norm1.", ".ln1.").replace(".norm2.", ".ln2.")
            k2 = k2.replace(".mlp.fc1.", ".ffn.layers.0.0.").replace(".mlp.fc2.", ".ffn.layers.1.")
        elif k.startswith("patch_embed.proj."):
            k2 = "backbone.patch_embed.projection." + k.split(".")[-1]
        elif k.startswith("norm."):
            k2 = "backbone.ln1." + k.split(".")[-1]
        elif k in ("cls_token", "pos_embed"):
            k2 = "backbone." + k
        elif k.startswith("decoder_norm."):
            k2 = "neck.decoder_norm." + k.split(".")[-1]
        else:
            k2 = "neck." + k
        out[k2] = v
    return out


def test_official_full_checkpoint_loads_with_args_allow_listed(tmp_path, mae):
    sd, meta = read_checkpoint(official_full(tmp_path, mae))
    assert meta["pretrain_args"]["blr"] == 1.5e-4
    converted, layout = convert_state_dict(sd)
    assert layout == "mae_full"
    fresh = create_mae("vit_tiny_patch16", img_size=64, **TINY, **TINY_DECODER)
    fresh.load_state_dict(converted, strict=True)


def test_finetune_model_report_lists_every_key(tmp_path, mae):
    vit = create_vit("vit_tiny_patch16", img_size=128, num_classes=7, rel_pos_bias=True, **TINY)
    report = load_checkpoint(vit, official_full(tmp_path, mae))
    assert report.layout == "mae_full"
    assert report.resized == ["pos_embed"]  # 4x4 grid -> 8x8
    assert set(report.new_by_design) == {"head.weight", "head.bias", "fc_norm.weight", "fc_norm.bias"} | {
        f"blocks.{i}.attn.rel_pos.relative_position_bias_table" for i in range(4)
    }
    assert "norm.weight" in report.unused_by_design and "decoder_pred.weight" in report.unused_by_design
    assert torch.equal(vit.blocks[2].attn.qkv.weight, mae.blocks[2].attn.qkv.weight)
    assert all(torch.count_nonzero(b.attn.rel_pos.relative_position_bias_table) == 0 for b in vit.blocks)
    total = len(report.loaded) + len(report.new_by_design)
    assert total == len(vit.state_dict())


def test_wrong_architecture_is_refused_with_a_clear_message(tmp_path, mae):
    deeper = create_vit("vit_tiny_patch16", img_size=64, embed_dim=64, depth=6, num_heads=2)
    with pytest.raises(CheckpointError, match="lacks"):
        load_checkpoint(deeper, official_full(tmp_path, mae))
    wider = create_vit("vit_tiny_patch16", img_size=64, embed_dim=96, depth=4, num_heads=2)
    with pytest.raises(CheckpointError, match="disagree in shape"):
        load_checkpoint(wider, official_full(tmp_path, mae))


def test_encoder_only_checkpoint_cannot_drive_a_decoder(tmp_path, mae):
    path = save_backbone(tmp_path / "enc", mae.encoder_state_dict(), {"architecture": {"depth": 4}})
    fresh = create_mae("vit_tiny_patch16", img_size=64, **TINY, **TINY_DECODER)
    with pytest.raises(CheckpointError, match="decoder"):
        load_checkpoint(fresh, path, new_by_design=())


def test_safetensors_round_trip_and_format_version(tmp_path, mae):
    path = save_backbone(tmp_path / "backbone", mae.encoder_state_dict(), {"architecture": {"depth": 4}})
    tensors, meta = read_checkpoint(path)
    assert meta["format_version"] == FORMAT_VERSION and set(tensors) == set(mae.encoder_state_dict())
    sidecar = path.with_suffix(".json")
    sidecar.write_text(json.dumps({**meta, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(CheckpointError, match="newer than this maebench"):
        read_checkpoint(path)


@pytest.mark.parametrize("layout", ["timm", "mmpretrain", "module_prefix"])
def test_convert_round_trips_each_layout(layout, mae):
    sd = mae.state_dict()
    if layout == "timm":
        src = {k: v for k, v in sd.items() if not k.startswith(("decoder", "mask_token"))}
        src["head.weight"], src["head.bias"] = torch.zeros(10, 64), torch.zeros(10)
    elif layout == "mmpretrain":
        src = to_mmpretrain(sd)
    else:
        src = {"module." + k: v for k, v in sd.items()}
    converted, name = convert_state_dict(src)
    expected = {k: v for k, v in sd.items() if k in converted}
    assert set(converted) >= set(mae.encoder_state_dict())
    assert all(torch.equal(converted[k], v) for k, v in expected.items())
    if layout == "mmpretrain":
        assert name == "mmpretrain" and set(converted) == set(sd)


class Payload:
    """Any class outside the allow-list: unpickling it could run arbitrary code."""


def test_unpicklable_checkpoint_is_refused_not_executed(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "extra": Payload()}, path)
    with pytest.raises(CheckpointError, match="weights-only"):
        read_checkpoint(path)
    (tmp_path / "trunc.safetensors").write_bytes(b"\x00\x01garbage")
    with pytest.raises(CheckpointError, match="safetensors"):
        read_checkpoint(tmp_path / "trunc.safetensors")


def test_new_batchnorm_head_is_new_by_design(tmp_path, mae):
    from torch import nn

    vit = create_vit("vit_tiny_patch16", img_size=64, global_pool="token", **TINY)
    vit.head = nn.Sequential(nn.BatchNorm1d(64, affine=False), nn.Linear(64, 3))  # the linear-probe head
    report = load_checkpoint(vit, official_full(tmp_path, mae))
    assert "head.0.num_batches_tracked" in report.new_by_design and "head.1.weight" in report.new_by_design
