"""The CPU fast paths compute what the plain paths compute: explicit bf16 attention, kept heap, compile."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mae_backbone import create_mae
from mae_backbone.layers import CPU_BF16_EXPLICIT_MAX_TOKENS, Block, explicit_attention
from mae_backbone.runtime.cpu import keep_freed_memory
from mae_backbone.runtime.optim_wrapper import compile_in_place


def test_explicit_attention_equals_the_fused_kernel_with_and_without_a_bias():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 17, 8) for _ in range(3))
    bias = torch.randn(1, 3, 17, 17)
    torch.testing.assert_close(explicit_attention(q, k, v), F.scaled_dot_product_attention(q, k, v))
    torch.testing.assert_close(
        explicit_attention(q, k, v, bias), F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    )


def test_bf16_block_on_cpu_takes_the_explicit_path_and_stays_close_to_fp32():
    torch.manual_seed(0)
    blk = Block(64, 4, rel_pos_window=(4, 4), num_prefix_tokens=1)
    torch.nn.init.normal_(blk.attn.rel_pos.relative_position_bias_table, std=0.5)  # exercise the bias too
    x = torch.randn(3, 17, 64, requires_grad=True)
    ref = blk(x, (4, 4))
    ref.sum().backward()
    grad_ref, x.grad = x.grad.clone(), None
    assert 17 <= CPU_BF16_EXPLICIT_MAX_TOKENS
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = blk(x, (4, 4))
    out.float().sum().backward()
    # bf16 keeps ~3 significant digits: compare at that precision, and far tighter than the signal itself
    assert (out.float() - ref).abs().max() < 0.05 * ref.abs().max()
    assert (x.grad - grad_ref).abs().max() < 0.05 * grad_ref.abs().max()


def test_kept_heap_still_allocates_and_frees_large_tensors():
    assert keep_freed_memory() is keep_freed_memory()  # idempotent
    for _ in range(3):  # blocks above glibc's 32 MB mmap threshold
        t = torch.ones(20_000_000)
        assert float(t.sum()) == 20_000_000
        del t


def test_compile_in_place_keeps_the_keys_and_the_loss():
    torch.manual_seed(0)
    kw = dict(
        img_size=32, embed_dim=32, depth=1, num_heads=2, decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2
    )
    mae = create_mae("vit_tiny_patch16", **kw)
    keys = list(mae.state_dict())
    imgs, noise = torch.randn(2, 3, 32, 32), torch.rand(2, 4)  # inductor draws its own random numbers
    eager = mae(imgs, 0.75, noise)[0]
    compile_in_place(mae, True)
    assert list(mae.state_dict()) == keys  # checkpoints are unchanged by compiling
    compiled = mae(imgs, 0.75, noise)[0]
    compiled.backward()
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-5)
    assert all(p.grad is not None for p in mae.parameters() if p.requires_grad)
