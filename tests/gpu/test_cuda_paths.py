"""The branches that only run with CUDA: bf16 autocast through mmengine's AmpOptimWrapper, fused AdamW on the
GPU, the CUDA RNG state in checkpoints, one-GPU DDP over NCCL and the SyncBN decision at world size 1."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.distributed as dist

pytestmark = pytest.mark.gpu

# bf16 keeps 8 significant bits (relative rounding 2^-9 = 0.2% per value). The loss is a mean over
# thousands of squared errors accumulated in fp32 (forward_loss casts to fp32), so the rounding of the
# activations averages out; 1% leaves room for the 20 blocks of rounded matmuls in front of it.
BF16_LOSS_RTOL = 1e-2


def pretrain_step(precision: str) -> tuple[float, float]:
    """(loss of one ViT-B/16 MAE step in `precision`, fp32 loss of the same batch after the step), through
    the optim wrapper every maebench command builds."""
    from mae_backbone import create_mae
    from mae_backbone.runtime.optim_wrapper import build_optim_wrapper

    torch.manual_seed(0)
    model = create_mae("vit_base_patch16", img_size=224).cuda()
    params = [p for p in model.parameters() if p.requires_grad]
    wrapper = build_optim_wrapper(
        [{"params": params, "lr": 1.5e-4, "weight_decay": 0.05}], precision=precision, betas=(0.9, 0.95)
    )
    g = torch.Generator(device="cuda").manual_seed(0)
    imgs = torch.randn(16, 3, 224, 224, device="cuda", generator=g)
    noise = torch.rand(16, 196, device="cuda", generator=g)  # the same masks for both precisions
    with wrapper.optim_context(model):
        loss = model(imgs, 0.75, noise)[0]
    wrapper.update_params(loss)
    with torch.no_grad():
        after = model(imgs, 0.75, noise)[0]
    return loss.item(), after.item()


def test_bf16_pretrain_step_matches_fp32(record_property):
    (bf16, bf16_after), (fp32, fp32_after) = pretrain_step("bf16"), pretrain_step("fp32")
    rel, rel_after = abs(bf16 - fp32) / fp32, abs(bf16_after - fp32_after) / fp32_after
    record_property("loss_fp32", fp32)
    record_property("loss_bf16", bf16)
    record_property("loss_rel_diff", rel)
    record_property("loss_after_step_rel_diff", rel_after)
    record_property("tolerance", BF16_LOSS_RTOL)
    assert rel < BF16_LOSS_RTOL and rel_after < BF16_LOSS_RTOL, (bf16, fp32, bf16_after, fp32_after)
    assert fp32_after < fp32  # the step trained


def test_fused_adamw_on_cuda_matches_the_per_tensor_loop():
    torch.manual_seed(0)
    a = [torch.randn(300, 70, device="cuda", requires_grad=True), torch.randn(70, device="cuda", requires_grad=True)]
    b = [p.detach().clone().requires_grad_() for p in a]
    opts = [
        torch.optim.AdamW(ps, lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05, fused=fused)
        for ps, fused in ((a, True), (b, False))
    ]
    for _ in range(3):
        for ps, opt in zip((a, b), opts):
            (ps[0].sin().sum() + ps[1].square().sum()).backward()
            opt.step()
            opt.zero_grad()
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)


def test_cuda_rng_state_survives_a_checkpoint(tmp_path):
    from mae_backbone.runtime.engine import _rng_state, _set_rng_state

    torch.cuda.manual_seed_all(3)
    state = _rng_state()
    assert state["cuda"], "the checkpoint's RNG state has no CUDA generator"
    first = torch.rand(5, device="cuda")
    torch.save(state, tmp_path / "rng.pth")
    torch.rand(7, device="cuda")  # move on, then come back through the weights-only file
    _set_rng_state(torch.load(tmp_path / "rng.pth", weights_only=True))
    assert torch.equal(torch.rand(5, device="cuda"), first)


def test_one_gpu_ddp_over_nccl_and_batch_norm_left_alone(tmp_path, record_property):
    from mae_backbone.runtime.distributed import sync_bn, sync_bn_notice

    dist.init_process_group("nccl", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3),
            torch.nn.BatchNorm2d(8),
            torch.nn.ReLU(),
            torch.nn.Flatten(),
            torch.nn.Linear(8 * 14 * 14, 4),
        ).cuda()
        plain = copy.deepcopy(net)
        ddp = torch.nn.parallel.DistributedDataParallel(net, device_ids=[torch.cuda.current_device()])
        x = torch.randn(6, 3, 16, 16, device="cuda")
        for model in (ddp, plain):
            model(x).square().mean().backward()
        for p, q in zip(net.parameters(), plain.parameters()):
            torch.testing.assert_close(p.grad, q.grad)  # the all-reduce over one process averages nothing away
        t = torch.arange(4.0, device="cuda")
        dist.all_reduce(t)
        assert torch.equal(t, torch.arange(4.0, device="cuda"))
        assert dist.get_backend() == "nccl"
        assert sync_bn(dist.get_world_size()) is None  # mmengine is not asked to convert
        notice = sync_bn_notice(ddp, dist.get_world_size())
        record_property("sync_bn_notice", notice)
        assert notice == "SyncBN off: single process; 1 BatchNorm layers stay plain BN"
        assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in ddp.modules())
    finally:
        dist.destroy_process_group()
