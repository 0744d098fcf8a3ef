"""Contract tests for our ViT: shapes at awkward sizes, gradients, determinism, parity with timm."""
from __future__ import annotations

from functools import partial

import pytest
import torch
from timm.models.vision_transformer import VisionTransformer as TimmViT
from torch import nn

from mae_backbone import create_vit
from mae_backbone.pyramid import PyramidAdapter, quarter_indices
from tests.conftest import TINY


@pytest.mark.parametrize("global_pool", ["avg", "token"])
def test_encoder_matches_timm_for_the_same_state_dict(global_pool):
    ours = create_vit("vit_tiny_patch16", img_size=64, num_classes=5, global_pool=global_pool, **TINY).eval()
    timm_vit = TimmViT(img_size=64, patch_size=16, embed_dim=64, depth=4, num_heads=2, num_classes=5,
                       qkv_bias=True, global_pool=global_pool, norm_layer=partial(nn.LayerNorm, eps=1e-6)).eval()
    sd = ours.state_dict()
    assert set(sd) == set(timm_vit.state_dict())  # the same key names, hence the same checkpoints
    timm_vit.load_state_dict(sd, strict=True)
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(ours(x), timm_vit(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("hw", [(32, 48), (112, 64), (64, 64), (16, 16)])
def test_feature_maps_at_awkward_sizes(hw):
    model = create_vit("vit_tiny_patch16", img_size=64, global_pool="", **TINY)
    maps = model.forward_feature_maps(torch.randn(2, 3, *hw), [1, 3])
    assert [m.shape for m in maps] == [(2, 64, hw[0] // 16, hw[1] // 16)] * 2
    assert all(torch.isfinite(m).all() for m in maps)
    assert model.feature_spec([1, 3])[0].channels == 64


def test_non_multiple_input_size_is_a_clear_error():
    model = create_vit("vit_tiny_patch16", img_size=64, **TINY)
    with pytest.raises(ValueError, match="multiple of the patch size"):
        model(torch.randn(1, 3, 50, 64))


def test_every_parameter_gets_a_gradient():
    model = create_vit("vit_tiny_patch16", img_size=64, num_classes=3, rel_pos_bias=True, drop_path_rate=0.1, **TINY)
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []


def test_eval_mode_is_deterministic_and_never_masks():
    model = create_vit("vit_tiny_patch16", img_size=64, num_classes=3, drop_path_rate=0.2, **TINY).eval()
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(model(x), model(x))
    assert model.forward_features(x).shape[1] == 1 + 16  # all tokens, no masking


def test_grad_checkpointing_gives_the_same_output():
    a = create_vit("vit_tiny_patch16", img_size=64, num_classes=3, **TINY)
    b = create_vit("vit_tiny_patch16", img_size=64, num_classes=3, grad_checkpointing=True, **TINY)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(a(x), b(x))


def test_zero_relative_position_bias_changes_nothing():
    plain = create_vit("vit_tiny_patch16", img_size=64, **TINY).eval()
    biased = create_vit("vit_tiny_patch16", img_size=64, rel_pos_bias=True, **TINY).eval()
    missing = biased.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.endswith("relative_position_bias_table") for k in missing)
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(plain(x), biased(x))
    y = torch.randn(1, 3, 32, 48)  # another grid: the resampled zero table is still zero
    torch.testing.assert_close(plain(y), biased(y))


def test_window_attention_with_global_blocks_runs_and_pads():
    model = create_vit("vit_tiny_patch16", img_size=128, global_pool="", use_cls_token=False, window_size=3,
                       global_attn_indexes=quarter_indices(4), rel_pos_bias=True, **TINY)
    maps = model.forward_feature_maps(torch.randn(1, 3, 128, 112), [3])  # 8x7 grid, windows of 3 -> padding
    assert maps[0].shape == (1, 64, 8, 7)


def test_layer_ids_follow_the_beit_rule():
    model = create_vit("vit_tiny_patch16", img_size=64, num_classes=3, **TINY)
    assert model.layer_id("cls_token") == model.layer_id("pos_embed") == model.layer_id("patch_embed.proj.weight") == 0
    assert model.layer_id("blocks.2.attn.qkv.weight") == 3
    assert model.layer_id("head.weight") == model.layer_id("fc_norm.bias") == 5


def test_pyramid_adapter_strides_and_channels():
    backbone = create_vit("vit_tiny_patch16", img_size=64, global_pool="", **TINY)
    adapter = PyramidAdapter(backbone)
    assert adapter.out_indices == [0, 1, 2, 3]
    outs = adapter(torch.randn(2, 3, 64, 96))
    assert [tuple(o.shape[-2:]) for o in outs] == [(16, 24), (8, 12), (4, 6), (2, 3)]
    assert [s.stride for s in adapter.feature_spec] == [4, 8, 16, 32]
    assert all(o.shape[1] == s.channels == 64 for o, s in zip(outs, adapter.feature_spec))
    assert quarter_indices(12) == [2, 5, 8, 11] and quarter_indices(24) == [5, 11, 17, 23]
