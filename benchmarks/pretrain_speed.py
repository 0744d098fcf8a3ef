"""Pre-training step speed, measured side by side in one process (issue 2 / issue 9, benchmarks 1 and 2).

1. design ratio: our MAE (encoder on visible tokens only) vs the same model with mask tokens in the
   encoder, in our precision and in fp32, next to the analytic FLOP ratio of the two designs;
2. ours (default precision) vs an independent re-implementation of the official training step
   (timm `Block`s, explicit attention as in timm 0.3.2, fp32, AdamW), same shapes, same optimizer;
3. ours after `torch.compile` (what the full-size pre-training configs run; skip with --no-compile), and the
   design ratio with both models compiled (the default settings of those configs).
The process keeps its freed heap as the maebench command does (runtime/cpu.py), for both sides alike.

Prints a table and writes benchmarks/results/pretrain_speed.json. Not a test: nothing asserts on time.
Example: python benchmarks/pretrain_speed.py --arch vit_base_patch16 --batch 32 --steps 3
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
from mae_backbone.runtime.optim_wrapper import compile_in_place  # noqa: E402
from mae_backbone.runtime.cpu import cpu_description, cpu_has_fast_bf16, keep_freed_memory  # noqa: E402


def block_flops(tokens: int, dim: int) -> float:
    """Forward multiply-adds x2 of one transformer block: qkv+proj+mlp (24 N D^2) and attention (4 N^2 D)."""
    return 24 * tokens * dim**2 + 4 * tokens**2 * dim


def step_flops(arch: dict, img: int, mask_ratio: float, mask_tokens_in_encoder: bool) -> float:
    p, d, depth = arch["patch_size"], arch["embed_dim"], arch["depth"]
    dd, ddepth = arch["decoder_embed_dim"], arch["decoder_depth"]
    n = (img // p) ** 2
    enc_tokens = n + 1 if mask_tokens_in_encoder else int(n * (1 - mask_ratio)) + 1
    fwd = 2 * n * p * p * 3 * d + depth * block_flops(enc_tokens, d)
    fwd += 2 * enc_tokens * d * dd + ddepth * block_flops(n + 1, dd) + 2 * (n + 1) * dd * p * p * 3
    return 3 * fwd  # backward ~ 2x forward


class MaskTokensInEncoder(torch.nn.Module):
    """Our blocks, but every patch goes through the encoder (removed ones replaced by a mask token)."""

    def __init__(self, mae):
        super().__init__()
        self.mae = mae
        self.enc_mask_token = torch.nn.Parameter(torch.zeros(1, 1, mae.embed_dim))

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


def time_steps(model, batch: int, img: int, steps: int, precision: str, warmup: int = 2, fused: bool = True) -> float:
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, betas=(0.9, 0.95),
                            fused=fused)
    imgs = torch.randn(batch, 3, img, img)
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        with ctx:
            loss = model(imgs, 0.75)[0]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]  # median step time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", nargs="+", default=["vit_base_patch16"], choices=list(VARIANTS))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--img-size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--no-compile", dest="compile", action="store_false",
                    help="skip the torch.compile measurement (it compiles for a minute or two first)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "pretrain_speed.json"))
    args = ap.parse_args()
    precision = args.precision if args.precision != "auto" else ("bf16" if cpu_has_fast_bf16() else "fp32")
    # The maebench command sets this for every job; here it holds for both sides of every ratio.
    malloc = "heap kept (maebench default)" if keep_freed_memory() else "glibc default"
    machine = f"{cpu_description()}, torch {torch.__version__}, " \
              f"threads {torch.get_num_threads()}, malloc {malloc}"
    print(f"machine: {machine}; batch {args.batch}, {args.img_size}px, 75% masking, our precision {precision}")
    results = []
    for name in args.arch:
        a = VARIANTS[name]
        torch.manual_seed(0)
        ours = create_mae(name, img_size=args.img_size)
        ref = ReferenceMAE(args.img_size, a["patch_size"], a["embed_dim"], a["depth"], a["num_heads"],
                           a["decoder_embed_dim"], a["decoder_depth"], a["decoder_num_heads"])
        ref.load_state_dict(ours.state_dict())
        t_ours = time_steps(ours, args.batch, args.img_size, args.steps, precision)
        t_ours32 = t_ours if precision == "fp32" else time_steps(ours, args.batch, args.img_size, args.steps, "fp32")
        tokens = MaskTokensInEncoder(ours)
        t_tok = time_steps(tokens, args.batch, args.img_size, args.steps, "fp32")
        t_tok_default = t_tok if precision == "fp32" else time_steps(tokens, args.batch, args.img_size, args.steps,
                                                                     precision)
        t_ref = time_steps(ref, args.batch, args.img_size, args.steps, "fp32", fused=False)  # official: plain AdamW
        t_comp = t_tok_comp = None
        if args.compile:  # last: compiling is in place (the full-size pre-training configs set optim.compile)
            compile_in_place(ours, True)
            t_comp = time_steps(ours, args.batch, args.img_size, args.steps, precision)
            compile_in_place(tokens, True)  # compiles its own forward (it calls ours' submodules, not ours)
            t_tok_comp = time_steps(tokens, args.batch, args.img_size, args.steps, precision)
        flop_ratio = step_flops(a, args.img_size, 0.75, True) / step_flops(a, args.img_size, 0.75, False)
        row = dict(arch=name, batch=args.batch, img_size=args.img_size, precision=precision,
                   ours_img_s=args.batch / t_ours, ours_fp32_img_s=args.batch / t_ours32,
                   mask_tokens_fp32_img_s=args.batch / t_tok, reference_fp32_img_s=args.batch / t_ref,
                   design_ratio_fp32=t_tok / t_ours32, design_ratio=t_tok_default / t_ours,
                   analytic_flop_ratio=flop_ratio,
                   speedup_vs_reference=t_ref / t_ours,
                   ours_compiled_img_s=t_comp and args.batch / t_comp,
                   speedup_vs_reference_compiled=t_comp and t_ref / t_comp,
                   mask_tokens_compiled_img_s=t_tok_comp and args.batch / t_tok_comp,
                   design_ratio_compiled=t_comp and t_tok_comp / t_comp)
        results.append(row)
        print(f"{name}: ours {row['ours_img_s']:.2f} img/s ({precision}), ours fp32 {row['ours_fp32_img_s']:.2f}, "
              f"mask tokens in encoder fp32 {row['mask_tokens_fp32_img_s']:.2f}, official-style reference fp32 "
              f"{row['reference_fp32_img_s']:.2f} img/s")
        print(f"  design ratio ({precision}) {row['design_ratio']:.2f}x, (fp32) {row['design_ratio_fp32']:.2f}x vs "
              f"analytic FLOP ratio {flop_ratio:.2f}x ({100 * row['design_ratio'] / flop_ratio:.0f}% / "
              f"{100 * row['design_ratio_fp32'] / flop_ratio:.0f}% of the bound); "
              f"ours vs reference {row['speedup_vs_reference']:.2f}x")
        if t_comp:
            print(f"  compiled (optim.compile=True): {row['ours_compiled_img_s']:.2f} img/s, "
                  f"{row['speedup_vs_reference_compiled']:.2f}x the reference; design ratio with both compiled "
                  f"{row['design_ratio_compiled']:.2f}x ({100 * row['design_ratio_compiled'] / flop_ratio:.0f}% of "
                  "the bound)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
