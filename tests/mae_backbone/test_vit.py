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


def windowed_vit(global_attn_indexes, **kw):
    """A tiny ViTDet-style backbone: 128 px (an 8 x 8 grid), no cls token, 3 x 3 windows but in the global blocks."""
    return create_vit(
        "vit_tiny_patch16",
        img_size=128,
        global_pool="",
        use_cls_token=False,
        window_size=3,
        global_attn_indexes=global_attn_indexes,
        **TINY,
        **kw,
    )


@pytest.mark.parametrize("global_pool", ["avg", "token"])
def test_encoder_matches_timm_for_the_same_state_dict(global_pool):
    ours = create_vit("vit_tiny_patch16", img_size=64, num_classes=5, global_pool=global_pool, **TINY).eval()
    timm_vit = TimmViT(
        img_size=64,
        patch_size=16,
        **TINY,
        num_classes=5,
        qkv_bias=True,
        global_pool=global_pool,
        norm_layer=partial(nn.LayerNorm, eps=1e-6),
    ).eval()
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
    model = windowed_vit(quarter_indices(4), rel_pos_bias=True)
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
    assert [s.stride for s in adapter.feature_spec()] == [4, 8, 16, 32]
    assert all(o.shape[1] == s.channels == 64 for o, s in zip(outs, adapter.feature_spec()))
    assert quarter_indices(12) == [2, 5, 8, 11] and quarter_indices(24) == [5, 11, 17, 23]


def _reference_decomposed_attention(attn, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """ViTDet's attention written out one query / key pair at a time (detectron2 vit.py + utils.py, as facts):
    logit(i, j) = (q_i / sqrt(d)) . k_j + q_i . rel_pos_h[hi - hj + H - 1] + q_i . rel_pos_w[wi - wj + W - 1],
    with the unscaled query in the relative terms; softmax over j; weighted sum of v; output projection."""
    b, n, c = x.shape
    heads, (h, w) = attn.num_heads, grid
    d = c // heads
    q, k, v = (x @ attn.qkv.weight.T + attn.qkv.bias).reshape(b, n, 3, heads, d).unbind(2)  # (b, n, heads, d)
    out = torch.zeros(b, n, heads, d, dtype=x.dtype)
    for i in range(n):
        hi, wi = divmod(i, w)
        logits = torch.stack(
            [
                (q[:, i] * k[:, j]).sum(-1) * d**-0.5
                + (q[:, i] * attn.rel_pos_h[hi - j // w + h - 1]).sum(-1)
                + (q[:, i] * attn.rel_pos_w[wi - j % w + w - 1]).sum(-1)
                for j in range(n)
            ],
            dim=-1,
        )  # (b, heads, n)
        out[:, i] = torch.einsum("bhj,bjhd->bhd", logits.softmax(-1), v)
    return out.reshape(b, n, c) @ attn.proj.weight.T + attn.proj.bias


def test_decomposed_rel_pos_attention_equals_the_reference_computation():
    from mae_backbone.layers import Attention

    grid = (3, 4)  # not square: a swapped height / width table would show
    attn = Attention(32, 4, decomposed_rel_pos=grid).double()
    assert attn.rel_pos_h.shape == (2 * 3 - 1, 8) and attn.rel_pos_w.shape == (2 * 4 - 1, 8)
    assert not attn.rel_pos_h.any() and not attn.rel_pos_w.any()  # zero-initialised (rel_pos_zero_init)
    with torch.no_grad():
        attn.rel_pos_h.normal_(std=0.5)
        attn.rel_pos_w.normal_(std=0.5)
    x = torch.randn(2, 12, 32, dtype=torch.float64)
    torch.testing.assert_close(attn(x, grid), _reference_decomposed_attention(attn, x, grid))


def test_vitdet_rel_pos_keys_shapes_and_zero_start():
    model = windowed_vit([1, 3], decomposed_rel_pos=True)
    head_dim = 64 // 2
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items() if ".rel_pos_" in k}
    # detectron2's names; window blocks sized by the window, global ones by the 8 x 8 input grid
    assert shapes == {
        f"blocks.{i}.attn.rel_pos_{a}": (2 * (3 if i in (0, 2) else 8) - 1, head_dim) for i in range(4) for a in "hw"
    }
    assert not any(k.endswith("relative_position_bias_table") for k in model.state_dict())
    assert set(shapes) <= model.no_weight_decay()  # exempt by default, like BEiT's tables
    plain = windowed_vit([1, 3])
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if k not in shapes})
    x = torch.randn(1, 3, 128, 112)  # padded windows
    torch.testing.assert_close(model.forward_feature_maps(x, [3])[0], plain.forward_feature_maps(x, [3])[0])


def test_vitdet_pos_embed_stays_at_the_pretraining_grid_and_is_resampled_each_forward():
    model = create_vit(
        "vit_tiny_patch16",
        img_size=96,
        pretrain_img_size=32,
        global_pool="",
        use_cls_token=False,
        decomposed_rel_pos=True,
        **TINY,
    )
    assert model.pos_embed.shape == (1, 2 * 2, 64)  # the 32 px grid, not the 6 x 6 input grid
    x = torch.randn(2, 3, 96, 96)
    tokens, grid = model._embed(x)
    # get_abs_pos: the (1, D, 2, 2) grid resized bicubically (align_corners=False) to the input's 6 x 6
    pos = (
        torch.nn.functional.interpolate(
            model.pos_embed.reshape(1, 2, 2, 64).permute(0, 3, 1, 2), size=(6, 6), mode="bicubic", align_corners=False
        )
        .permute(0, 2, 3, 1)
        .reshape(1, 36, 64)
    )
    patches = model.patch_embed.proj(x).flatten(2).transpose(1, 2)
    assert grid == (6, 6)
    torch.testing.assert_close(tokens, patches + pos)
    tokens.sum().backward()
    assert model.pos_embed.grad is not None and model.pos_embed.grad.abs().sum() > 0  # it learns at its own grid
