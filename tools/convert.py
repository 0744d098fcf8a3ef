"""`maebench convert`: official MAE / timm / mmpretrain checkpoints -> maebench safetensors, with a key report.

The converted file is validated by loading it into the model it claims to be, so a conversion that
would leave encoder tensors behind fails here instead of at the start of a week-long fine-tune.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from mae_backbone import VARIANTS, create_mae, create_vit
from mae_backbone.checkpoint import open_checkpoint, save_backbone
from mae_backbone.errors import CheckpointError
from mae_backbone.factory import architecture_of
from mae_backbone.keymaps import infer_architecture
from mae_backbone.mae import DECODER_PREFIXES


def guess_variant(arch: dict[str, int]) -> str | None:
    for name, spec in VARIANTS.items():
        if all(spec[k] == arch[k] for k in ("embed_dim", "depth", "patch_size")):
            return name
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input",
        help="checkpoint: official MAE .pth (encoder, _full, visualize, finetuned), "
        "timm ViT state dict, or mmpretrain MAE .pth",
    )
    parser.add_argument("output", help="output path; .safetensors is appended, a .json sidecar is written beside")
    parser.add_argument("--arch", default=None, help=f"architecture ({', '.join(VARIANTS)}); inferred if omitted")
    parser.add_argument("--num-heads", type=int, default=None, help="heads, if the architecture is not a known one")
    parser.add_argument("--encoder-only", action="store_true", help="drop the decoder even if the file has one")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")


def main(args: argparse.Namespace) -> int:
    out = Path(args.output).with_suffix(".safetensors")
    if out.exists() and not args.force:
        raise CheckpointError(f"{out} exists; pass --force to overwrite it")
    ckpt = open_checkpoint(args.input)
    tensors, meta, layout = ckpt.tensors, ckpt.meta, ckpt.layout
    try:
        arch = infer_architecture(tensors)
    except ValueError as err:
        raise CheckpointError(f"{args.input}: {err} (layout {layout})") from None
    name = args.arch or guess_variant(arch)
    if name is None and args.num_heads is None:
        raise CheckpointError(f"{args.input}: architecture {arch} is not a known variant; pass --arch or --num-heads")
    base = name or "vit_base_patch16"
    kw = dict(embed_dim=arch["embed_dim"], depth=arch["depth"], patch_size=arch["patch_size"])
    if args.num_heads:
        kw["num_heads"] = args.num_heads
    grid = int(round((arch.get("num_tokens", 197) - 1) ** 0.5))
    img_size = grid * arch["patch_size"]
    keep_decoder = "decoder_embed_dim" in arch and not args.encoder_only
    if keep_decoder:
        heads = VARIANTS.get(base, {}).get("decoder_num_heads", 16)
        model = create_mae(
            base,
            img_size=img_size,
            decoder_embed_dim=arch["decoder_embed_dim"],
            decoder_depth=arch["decoder_depth"],
            decoder_num_heads=heads,
            **kw,
        )
        report = ckpt.load(model, new_by_design=(), unused_by_design=())
        state = model.state_dict()
    else:  # an encoder; a fine-tuned classifier keeps its fc_norm / head (robustness evaluates it as is)
        pool = "avg" if "fc_norm.weight" in tensors else "token"
        classes = tensors["head.weight"].shape[0] if "head.weight" in tensors else 0
        model = create_vit(base, img_size=img_size, global_pool=pool, num_classes=classes, **kw)
        encoder = replace(ckpt, tensors={k: v for k, v in tensors.items() if not k.startswith(DECODER_PREFIXES)})
        report = encoder.load(model, new_by_design=(), unused_by_design=())
        state = model.state_dict()
    print(report.summary())
    side = {
        **meta,
        **dict(
            arch_name=name,
            architecture=architecture_of(model),
            img_size=img_size,
            source=str(args.input),
            source_layout=layout,
            has_decoder=keep_decoder,
        ),
    }
    if keep_decoder:
        side["decoder"] = dict(
            decoder_embed_dim=arch["decoder_embed_dim"],
            decoder_depth=arch["decoder_depth"],
            decoder_num_heads=model.decoder_blocks[0].attn.num_heads,
        )
    path = save_backbone(out, state, side)
    print(f"wrote {path} (+ {path.with_suffix('.json').name}): {len(state)} tensors, layout {layout}, arch {name}")
    return 0
