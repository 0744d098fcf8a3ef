"""The pre-training model: official key layout, masking, loss, and equivalence with the reference step."""

from __future__ import annotations

import pytest
import torch

from benchmarks.reference_mae import ReferenceMAE
from mae_backbone import create_mae, create_vit
from mae_backbone.pos_embed import resample_pos_embed, sincos_2d
from tests.conftest import TINY, TINY_DECODER

OFFICIAL_TOP_KEYS = {
    "cls_token",
    "pos_embed",
    "patch_embed.proj.weight",
    "patch_embed.proj.bias",
    "norm.weight",
    "norm.bias",
    "mask_token",
    "decoder_embed.weight",
    "decoder_embed.bias",
    "decoder_pos_embed",
    "decoder_norm.weight",
    "decoder_norm.bias",
    "decoder_pred.weight",
    "decoder_pred.bias",
}
BLOCK_KEYS = {
    f"{p}.{w}" for p in ("norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2") for w in ("weight", "bias")
}


def tiny_mae(**kw):
    return create_mae("vit_tiny_patch16", img_size=64, **TINY, **TINY_DECODER, **kw)


def test_state_dict_has_exactly_the_official_keys_and_shapes():
    model = create_mae("vit_base_patch16")
    sd = model.state_dict()
    expected = set(OFFICIAL_TOP_KEYS)
    expected |= {f"blocks.{i}.{k}" for i in range(12) for k in BLOCK_KEYS}
    expected |= {f"decoder_blocks.{i}.{k}" for i in range(8) for k in BLOCK_KEYS}
    assert set(sd) == expected
    assert sd["pos_embed"].shape == (1, 197, 768) and sd["decoder_pos_embed"].shape == (1, 197, 512)
    assert sd["decoder_pred.weight"].shape == (768, 512) and sd["blocks.0.attn.qkv.weight"].shape == (2304, 768)
    assert not model.pos_embed.requires_grad and not model.decoder_pos_embed.requires_grad
    huge = create_mae("vit_huge_patch14", depth=1, decoder_depth=1)  # shapes only
    assert huge.state_dict()["decoder_pred.weight"].shape == (588, 512)
    assert huge.state_dict()["pos_embed"].shape == (1, 257, 1280)


def test_encoder_keys_load_strictly_into_the_vit():
    mae = tiny_mae()
    vit = create_vit("vit_tiny_patch16", img_size=64, global_pool="token", **TINY)
    result = vit.load_state_dict(mae.encoder_state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    torch.testing.assert_close(vit.blocks[0].attn.qkv.weight, mae.blocks[0].attn.qkv.weight)


def test_loss_equals_the_reference_implementation_for_the_same_noise():
    torch.manual_seed(1)
    ours = tiny_mae(norm_pix_loss=True)
    ref = ReferenceMAE(img_size=64, patch_size=16, **TINY, **TINY_DECODER, norm_pix_loss=True)
    ref.load_state_dict(ours.state_dict(), strict=True)
    imgs, noise = torch.randn(3, 3, 64, 64), torch.rand(3, 16)
    loss, pred, mask = ours(imgs, 0.75, noise)
    ref_loss, ref_pred, ref_mask = ref(imgs, 0.75, noise)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(pred, ref_pred, rtol=1e-5, atol=1e-5)
    assert torch.equal(mask, ref_mask)
    loss.backward()
    ref_loss.backward()
    torch.testing.assert_close(
        ours.blocks[0].attn.qkv.weight.grad, ref.blocks[0].attn.qkv.weight.grad, rtol=1e-4, atol=1e-6
    )


@pytest.mark.parametrize("ratio", [0.75, 0.5, 0.9])
def test_masking_keeps_int_l_times_one_minus_r_tokens_and_restores_order(ratio):
    model = tiny_mae()
    x = torch.randn(4, 16, 8)
    visible, mask, ids_restore = model.random_masking(x, ratio)
    keep = int(16 * (1 - ratio))
    assert visible.shape == (4, keep, 8)
    assert (mask.sum(1) == 16 - keep).all()
    # Un-shuffling [visible, placeholders] with ids_restore puts every visible token back in place.
    filled = torch.cat([visible, torch.zeros(4, 16 - keep, 8)], 1)
    restored = torch.gather(filled, 1, ids_restore[..., None].expand(-1, -1, 8))
    kept = mask == 0
    assert torch.equal(restored[kept], x[kept])


def test_loss_ignores_visible_patches():
    model = tiny_mae()
    imgs, noise = torch.randn(2, 3, 64, 64), torch.rand(2, 16)
    loss, pred, mask = model(imgs, 0.75, noise)
    target = model.target(imgs)
    # Replace the prediction of every visible patch with garbage: the loss must not move.
    garbage = torch.where(mask[..., None].bool(), pred, torch.full_like(pred, 1e3))
    assert torch.equal(model.forward_loss(imgs, garbage, mask), loss)
    perfect = torch.where(mask[..., None].bool(), target, pred)
    assert model.forward_loss(imgs, perfect, mask).item() == 0.0


def test_sincos_regeneration_equals_the_stored_embedding_and_follows_the_mae_convention():
    model = tiny_mae()
    torch.testing.assert_close(model.pos_embed.data, sincos_2d(64, (4, 4))[None])
    emb = sincos_2d(16, (3, 5), num_prefix_tokens=1)
    assert torch.equal(emb[0], torch.zeros(16))
    # Token k is row-major; the first half encodes the column (MAE's 'xy' meshgrid), the second the row.
    row1_col0, row0_col1 = emb[1 + 5], emb[1 + 1]
    assert torch.equal(emb[1][:8], row1_col0[:8]) and not torch.equal(emb[1][8:], row1_col0[8:])
    assert torch.equal(emb[1][8:], row0_col1[8:]) and not torch.equal(emb[1][:8], row0_col1[:8])
    assert torch.allclose(emb[1 + 2][:4], torch.sin(torch.tensor(2.0) / 10000 ** (torch.arange(4) / 4.0)))


def test_pos_embed_resampling_round_trips_and_keeps_the_cls_slot():
    pos = sincos_2d(32, (8, 8))[None]
    up = resample_pos_embed(pos, (16, 16))
    assert up.shape == (1, 1 + 256, 32) and torch.equal(up[:, 0], pos[:, 0])
    back = resample_pos_embed(up, (8, 8))
    torch.testing.assert_close(back, pos, atol=0.05, rtol=0)
    assert resample_pos_embed(pos, (8, 8)) is pos
    rect = sincos_2d(32, (2, 8))[None]  # equal token count, different grid: must still be resampled
    moved = resample_pos_embed(rect, (4, 4), old_grid=(2, 8))
    assert moved.shape == rect.shape and not torch.equal(moved, rect)
    with pytest.raises(ValueError, match="pass old_grid"):
        resample_pos_embed(rect[:, :-3], (4, 4))
