"""Key layouts of the checkpoint families we read, mapped onto the official MAE / timm names.

Families (anchors.md 1.7, 5): official MAE encoder-only, `_full` (with decoder), `visualize`, fine-tuned
(`fc_norm`/`head`), timm ViT state dicts (same names as MAE), and mmpretrain/mmselfsup MAE
(`layers.i.ln1`, `ffn.layers.0.0`, decoder under `neck.`). Maps are explicit tables, never heuristics.
"""

from __future__ import annotations

import re

import torch

# mmpretrain encoder names -> ours (applied to the part after "blocks.i." / top level)
_MM_BLOCK = [("ln1.", "norm1."), ("ln2.", "norm2."), ("ffn.layers.0.0.", "mlp.fc1."), ("ffn.layers.1.", "mlp.fc2.")]
_MM_TOP = {"patch_embed.projection.": "patch_embed.proj.", "ln1.": "norm."}
_MM_NECK = {
    "neck.decoder_norm.": "decoder_norm.",
    "neck.ln1.": "decoder_norm.",
    "neck.decoder_embed.": "decoder_embed.",
    "neck.decoder_pred.": "decoder_pred.",
    "neck.mask_token": "mask_token",
    "neck.decoder_pos_embed": "decoder_pos_embed",
}
_WRAPPER_PREFIXES = ("module.", "model.", "backbone.", "encoder.")


def _strip_wrappers(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove a prefix that every encoder key shares (DDP `module.`, `backbone.` of a detector ...)."""
    changed = True
    while changed:
        changed = False
        for prefix in _WRAPPER_PREFIXES:
            enc = [k for k in sd if not k.startswith(("neck.", "head.", "data_preprocessor."))]
            if enc and all(k.startswith(prefix) for k in enc):
                sd = {(k[len(prefix) :] if k.startswith(prefix) else k): v for k, v in sd.items()}
                changed = True
    return sd


def _from_mmpretrain(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in sd.items():
        if key.startswith("data_preprocessor."):
            continue  # mean/std buffers, not weights
        m = re.match(r"(neck\.decoder_blocks|layers)\.(\d+)\.(.*)", key)
        if m:
            rest = m.group(3)
            for old, new in _MM_BLOCK:
                rest = rest.replace(old, new) if rest.startswith(old) else rest
            stem = "decoder_blocks" if m.group(1).startswith("neck") else "blocks"
            out[f"{stem}.{m.group(2)}.{rest}"] = value
            continue
        for table in (_MM_TOP, _MM_NECK):
            hit = next((old for old in table if key.startswith(old)), None)
            if hit:
                out[table[hit] + key[len(hit) :]] = value
                break
        else:
            out[key] = value
    return out


def convert_state_dict(sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str]:
    """Return the state dict under our key names and the name of the layout it came in."""
    sd = _strip_wrappers(dict(sd))
    if any(re.match(r"layers\.\d+\.ln1\.", k) for k in sd):
        sd = _from_mmpretrain(sd)
        return sd, "mmpretrain"
    if "decoder_embed.weight" in sd:
        return sd, "mae_full"
    if "fc_norm.weight" in sd or "head.weight" in sd:
        return sd, "mae_finetuned"
    if "blocks.0.attn.qkv.weight" in sd:
        return sd, "mae_encoder"
    return sd, "unknown"


def infer_architecture(sd: dict[str, torch.Tensor]) -> dict[str, int]:
    """Encoder and decoder shapes read off a state dict under our key names."""
    if "patch_embed.proj.weight" not in sd:
        raise ValueError("no patch_embed.proj.weight: not a ViT encoder state dict")
    w = sd["patch_embed.proj.weight"]
    arch = {
        "embed_dim": w.shape[0],
        "patch_size": w.shape[-1],
        "in_chans": w.shape[1],
        "depth": 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks.")),
    }
    if "pos_embed" in sd:
        arch["num_tokens"] = sd["pos_embed"].shape[1]
    if "decoder_embed.weight" in sd:
        arch["decoder_embed_dim"] = sd["decoder_embed.weight"].shape[0]
        arch["decoder_depth"] = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("decoder_blocks."))
    return arch
