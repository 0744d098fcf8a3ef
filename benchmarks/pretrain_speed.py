"""Pre-training step speed, measured side by side in one process (issues 2, 9 and 24).

1. design ratio: our MAE (encoder on visible tokens only) vs the same model with mask tokens in the
   encoder, in our precision and in fp32, next to the analytic FLOP ratio of the two designs (skip with
   --no-design);
2. ours vs an independent re-implementation of the official training step (timm `Block`s, explicit attention
   as in timm 0.3.2, plain AdamW), same shapes. The reference runs as the official code does on its device:
   fp32 on a CPU; on a GPU fp16 autocast with its loss scaler (`NativeScalerWithGradNormCount`: scale,
   backward, unscale, gradient norm, step). Ours runs in our precision (bf16 on GPUs) with fused AdamW;
3. ours after `torch.compile` (what the full-size pre-training configs run; skip with --no-compile), and the
   design ratio with both models compiled.
Every step ends with `loss.item()`, as both training loops do (the official one logs it, mmengine's message
hub reads it), so a GPU step is timed to its end. On a GPU the result also holds the model FLOPs utilisation
(MFU: the step's FLOPs, counted analytically as below, per second over the GPU's dense bf16 peak, named) and
the peak GPU memory of each measurement.
The process keeps its freed heap as the maebench command does (runtime/cpu.py), for both sides alike.

Prints a table and writes benchmarks/results/pretrain_speed.json. Not a test: nothing asserts on time.
Examples: python benchmarks/pretrain_speed.py --arch vit_base_patch16 --batch 32 --steps 3
          python benchmarks/pretrain_speed.py --arch vit_base_patch16 vit_large_patch16 --batch 128 64 --no-design
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.reference_mae import ReferenceMAE  # noqa: E402
from mae_backbone import VARIANTS, create_mae  # noqa: E402
from mae_backbone.runtime.cpu import cpu_description, cpu_has_fast_bf16, keep_freed_memory  # noqa: E402
from mae_backbone.runtime.optim_wrapper import compile_in_place  # noqa: E402

# Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s, from NVIDIA's data sheets; the first name that is a
# substring of torch.cuda.get_device_name() wins, so the specific names come first. --peak-tflops overrides.
BF16_PEAK_TFLOPS = {
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "GH200": 989.4,
    "H100": 989.4,
    "H200": 989.4,
    "H800": 989.4,
    "B200": 2250.0,
    "A100": 312.0,
    "A800": 312.0,
    "L40S": 362.0,
    "L40": 181.0,
    "L4": 121.0,
    "A10G": 70.0,
}


def block_flops(tokens: int, dim: int) -> float:
    """Forward multiply-adds x2 of one transformer block: qkv+proj+mlp (24 N D^2) and attention (4 N^2 D)."""
    return 24 * tokens * dim**2 + 4 * tokens**2 * dim


def step_flops(arch: dict, img: int, mask_ratio: float, mask_tokens_in_encoder: bool) -> float:
    """FLOPs of one training step for one image (forward, and backward counted as twice the forward)."""
    p, d, depth = arch["patch_size"], arch["embed_dim"], arch["depth"]
    dd, ddepth = arch["decoder_embed_dim"], arch["decoder_depth"]
    n = (img // p) ** 2
    enc_tokens = n + 1 if mask_tokens_in_encoder else int(n * (1 - mask_ratio)) + 1
    fwd = 2 * n * p * p * 3 * d + depth * block_flops(enc_tokens, d)
    fwd += 2 * enc_tokens * d * dd + ddepth * block_flops(n + 1, dd) + 2 * (n + 1) * dd * p * p * 3
    return 3 * fwd


def bf16_peak(device: torch.device, override: float | None) -> tuple[str, float | None]:
    """(what the peak is, TFLOP/s) for MFU; None where the device has no known bf16 peak (CPUs)."""
    if override:
        return f"{override} TFLOP/s (--peak-tflops)", override
    if device.type != "cuda":
        return "none (CPU)", None
    name = torch.cuda.get_device_name(device)
    for key, tflops in BF16_PEAK_TFLOPS.items():
        if key in name:
            return f"{name}: {tflops} TFLOP/s dense bf16 (NVIDIA data sheet)", tflops
    return f"{name}: unknown peak (pass --peak-tflops)", None


class MaskTokensInEncoder(torch.nn.Module):
    """Our blocks, but every patch goes through the encoder (removed ones replaced by a mask token)."""

    def __init__(self, mae):
        super().__init__()
        self.mae = mae
        self.enc_mask_token = torch.nn.Parameter(torch.zeros(1, 1, mae.embed_dim, device=mae.pos_embed.device))

    def forward(self, imgs, mask_ratio=0.75):
        m = self.mae
        x, grid = m.patch_embed(imgs)
        _, mask, _ = m.shuffle(x.shape[0], x.shape[1], mask_ratio, device=x.device)
        x = torch.lerp(x, self.enc_mask_token.to(x.dtype).expand_as(x), mask.unsqueeze(-1).to(x.dtype))
        x = x + m.pos_embed[:, 1:]
        x = torch.cat([(m.cls_token + m.pos_embed[:, :1]).expand(x.shape[0], -1, -1), x], 1)
        for blk in m.blocks:
            x = blk(x, grid)
        x = m.decoder_embed(m.norm(x)) + m.decoder_pos_embed
        for blk in m.decoder_blocks:
            x = blk(x, m.grid)
        pred = m.decoder_pred(m.decoder_norm(x))[:, 1:]
        return m.forward_loss(imgs, pred, mask), pred, mask


def time_steps(
    model,
    batch: int,
    img: int,
    steps: int,
    precision: str,
    warmup: int = 2,
    fused: bool = True,
    device: torch.device = torch.device("cpu"),
) -> tuple[float, float | None]:
    """(seconds per step, peak GPU memory of the model's training in GiB, or None on a CPU). On a CPU the
    median step; on a GPU the mean of `steps` steps run back to back. fp16 runs as the official code does:
    autocast and its loss scaler."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), fused=fused)
    imgs = torch.randn(batch, 3, img, img, device=device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    ctx = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    cuda = device.type == "cuda"
    if cuda:  # the peak counts this model and its training state, not the other models still in memory
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        own = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
        others = torch.cuda.memory_allocated(device) - own

    def step():
        with ctx:
            loss = model(imgs, 0.75)[0]
        if scaler is None:
            loss.backward()
            opt.step()
        else:  # the official NativeScalerWithGradNormCount without clipping
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.norm(torch.stack([torch.norm(p.grad.detach(), 2.0) for p in params if p.grad is not None]), 2.0)
            scaler.step(opt)
            scaler.update()
        opt.zero_grad(set_to_none=True)
        loss.item()

    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        torch.cuda.synchronize(device)
        return (time.perf_counter() - t0) / steps, (torch.cuda.max_memory_allocated(device) - others) / 2**30
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2], None


def measure(
    name: str, batch: int, args, device: torch.device, precision: str, ref_precision: str, peak: float | None
) -> dict:
    a = VARIANTS[name]
    img, steps = args.img_size, args.steps
    torch.manual_seed(0)
    ours = create_mae(name, img_size=img).to(device)
    ref = ReferenceMAE(
        img,
        a["patch_size"],
        a["embed_dim"],
        a["depth"],
        a["num_heads"],
        a["decoder_embed_dim"],
        a["decoder_depth"],
        a["decoder_num_heads"],
    ).to(device)
    ref.load_state_dict(ours.state_dict())
    run = lambda model, prec, **kw: time_steps(model, batch, img, steps, prec, args.warmup, device=device, **kw)  # noqa: E731
    t_ours, m_ours = run(ours, precision)
    t_ref, m_ref = run(ref, ref_precision, fused=False)  # the official code: plain AdamW
    del ref
    flops = step_flops(a, img, 0.75, False) * batch
    mfu = lambda t: flops / t / (peak * 1e12) if peak and t else None
    row = dict(
        arch=name,
        batch=batch,
        img_size=img,
        precision=precision,
        reference_precision=ref_precision,
        ours_img_s=batch / t_ours,
        reference_img_s=batch / t_ref,
        speedup_vs_reference=t_ref / t_ours,
        step_tflop=flops / 1e12,
        ours_mfu=mfu(t_ours),
        reference_mfu=mfu(t_ref),
        ours_peak_mem_gib=m_ours,
        reference_peak_mem_gib=m_ref,
    )
    if ref_precision == "fp32":  # the name the CPU results have always used
        row["reference_fp32_img_s"] = row["reference_img_s"]
    tokens = t_tok = t_tok_default = None
    if args.design:
        t_ours32 = t_ours if precision == "fp32" else run(ours, "fp32")[0]
        tokens = MaskTokensInEncoder(ours)
        t_tok = run(tokens, "fp32")[0]
        t_tok_default = t_tok if precision == "fp32" else run(tokens, precision)[0]
        flop_ratio = step_flops(a, img, 0.75, True) / step_flops(a, img, 0.75, False)
        row.update(
            ours_fp32_img_s=batch / t_ours32,
            mask_tokens_fp32_img_s=batch / t_tok,
            design_ratio_fp32=t_tok / t_ours32,
            design_ratio=t_tok_default / t_ours,
            analytic_flop_ratio=flop_ratio,
        )
    if args.compile:  # last: compiling is in place (the full-size pre-training configs set optim.compile)
        compile_in_place(ours, True)
        t_comp, m_comp = run(ours, precision)
        from torch._dynamo.utils import counters

        # compile_in_place falls back to eager code on an error: the graph count says whether it compiled
        row.update(
            ours_compiled_img_s=batch / t_comp,
            speedup_vs_reference_compiled=t_ref / t_comp,
            ours_compiled_mfu=mfu(t_comp),
            ours_compiled_peak_mem_gib=m_comp,
            compiled_graphs=counters["stats"]["unique_graphs"],
        )
        if tokens is not None:
            compile_in_place(tokens, True)  # compiles its own forward (it calls ours' submodules, not ours)
            t_tok_comp = run(tokens, precision)[0]
            row.update(mask_tokens_compiled_img_s=batch / t_tok_comp, design_ratio_compiled=t_tok_comp / t_comp)
    return row


def report(row: dict) -> None:
    pct = lambda v: f", MFU {100 * v:.1f}%" if v is not None else ""  # noqa: E731
    mem = lambda v: f", peak memory {v:.1f} GiB" if v is not None else ""  # noqa: E731
    print(
        f"{row['arch']} batch {row['batch']}: ours {row['ours_img_s']:.1f} img/s ({row['precision']}"
        f"{pct(row['ours_mfu'])}{mem(row['ours_peak_mem_gib'])}); official-style reference "
        f"{row['reference_img_s']:.1f} img/s ({row['reference_precision']}{pct(row['reference_mfu'])}"
        f"{mem(row['reference_peak_mem_gib'])}); ours vs reference {row['speedup_vs_reference']:.2f}x"
    )
    if "design_ratio" in row:
        r = row["analytic_flop_ratio"]
        print(
            f"  design ratio ({row['precision']}) {row['design_ratio']:.2f}x, (fp32) {row['design_ratio_fp32']:.2f}x "
            f"vs analytic FLOP ratio {r:.2f}x ({100 * row['design_ratio'] / r:.0f}% / "
            f"{100 * row['design_ratio_fp32'] / r:.0f}% of the bound)"
        )
    if row.get("ours_compiled_img_s"):
        print(
            f"  compiled (optim.compile=True): {row['ours_compiled_img_s']:.1f} img/s"
            f"{pct(row['ours_compiled_mfu'])}{mem(row['ours_compiled_peak_mem_gib'])}, "
            f"{row['speedup_vs_reference_compiled']:.2f}x the reference"
            + (
                f"; design ratio with both compiled {row['design_ratio_compiled']:.2f}x"
                if row.get("design_ratio_compiled")
                else ""
            )
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", nargs="+", default=["vit_base_patch16"], choices=list(VARIANTS))
    ap.add_argument(
        "--batch",
        nargs="+",
        type=int,
        default=[32],
        help="one per --arch, or one for all (GPU: e.g. 128 for ViT-B, 64 for ViT-L)",
    )
    ap.add_argument("--img-size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="ours; auto: bf16 on a GPU and on CPUs with native bf16, else fp32",
    )
    ap.add_argument(
        "--no-design",
        dest="design",
        action="store_false",
        help="skip the mask-tokens-in-encoder design ratio (only ours vs the reference)",
    )
    ap.add_argument(
        "--no-compile",
        dest="compile",
        action="store_false",
        help="skip the torch.compile measurement (it compiles for a minute or two first)",
    )
    ap.add_argument("--peak-tflops", type=float, default=None, help="the device's dense bf16 peak, for MFU")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "pretrain_speed.json"))
    args = ap.parse_args()
    if len(args.batch) not in (1, len(args.arch)):
        ap.error(f"give one --batch, or one per --arch ({len(args.arch)})")
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if cuda else "cpu")
    fast_bf16 = torch.cuda.is_bf16_supported() if cuda else cpu_has_fast_bf16()
    precision = args.precision if args.precision != "auto" else ("bf16" if fast_bf16 else "fp32")
    ref_precision = "fp16" if cuda else "fp32"  # the official code's own default on each
    peak_name, peak = bf16_peak(device, args.peak_tflops)
    if cuda:
        machine = (
            f"{torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}, torch {torch.__version__}, "
            f"host {cpu_description()}"
        )
    else:  # the maebench command sets this for every job; here it holds for both sides of every ratio
        malloc = "heap kept (maebench default)" if keep_freed_memory() else "glibc default"
        machine = f"{cpu_description()}, torch {torch.__version__}, threads {torch.get_num_threads()}, malloc {malloc}"
    print(
        f"machine: {machine}; {args.img_size}px, 75% masking, our precision {precision}, reference "
        f"{ref_precision}; MFU peak: {peak_name}"
    )
    results = []
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for name, batch in zip(args.arch, args.batch * len(args.arch) if len(args.batch) == 1 else args.batch):
        results.append(measure(name, batch, args, device, precision, ref_precision, peak))
        report(results[-1])
        # written after each model, so a run cut short (a GPU lease running out) keeps what it measured
        out.write_text(json.dumps({"machine": machine, "mfu_peak": peak_name, "results": results}, indent=2) + "\n")
        if cuda:
            torch.cuda.empty_cache()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
