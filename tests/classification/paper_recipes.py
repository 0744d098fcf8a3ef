"""The published recipe values of the paper suites' classification protocols, each with its source.

`PAPER_RECIPES[(suite, protocol)]` holds blr, layer decay, epochs and drop path as published, the source of
each, and `config`: the shipped classification config that implements them (relative to the repo root).
`OTHER_CONFIGS` covers the paper configs that no suite runs. Sources (anchors.md 1.5 / 1.6):
- FINETUNE.md: facebookresearch/mae's fine-tuning commands (ViT-B 5e-4 / 0.65 / 0.1 / 100 ep;
  ViT-L 1e-3 / 0.75 / 0.2 / 50 ep; ViT-H 1e-3 / 0.75 / 0.3 / 50 ep);
- Table 9 (paper, end-to-end fine-tuning): blr 1e-3, layer decay 0.75, drop path 0.1 (B/L) / 0.2 (H),
  100 epochs (B) / 50 (L/H);
- Table 10 (paper, linear probing) and main_linprobe.py: LARS blr 0.1, no drop path, 90 epochs (B) / 50 (L/H);
- A.1: partial fine-tuning follows Table 9 except the epochs, chosen from {50, 100, 200} per k;
- A.5: iNat / Places follow Table 9, lr and epochs "adjusted" per dataset (values not published).
A linear probe has no layer decay: 1.0 (every group at scale 1).
"""

from __future__ import annotations

# Each recipe's published values, stated once; the tables below say which protocol and config run which.
FT_B = dict(blr=5e-4, layer_decay=0.65, epochs=100, drop_path=0.1)
FT_L = dict(blr=1e-3, layer_decay=0.75, epochs=50, drop_path=0.2)
LIN_B = dict(blr=0.1, layer_decay=1.0, epochs=90, drop_path=0.0)
LIN_L = dict(LIN_B, epochs=50)

FT_B_SRC = "FINETUNE.md ViT-B (blr 5e-4, ld 0.65, dp 0.1, 100 ep); Table 9 lists blr 1e-3 / ld 0.75 for B"
FT_L_SRC = "FINETUNE.md ViT-L = Table 9 (blr 1e-3, ld 0.75, 50 ep); dp 0.2 from FINETUNE.md, Table 9 says 0.1"
LIN_B_SRC = "Table 10 + main_linprobe.py: LARS blr 0.1, wd 0, no drop path, 90 epochs for ViT-B"
LIN_L_SRC = "Table 10 + FINETUNE.md: LARS blr 0.1, wd 0, no drop path, 50 epochs for ViT-L/H"
A1 = "; A.1: partial = the fine-tuning setting, epochs from {50, 100, 200} (we run 100)"
A5 = "; A.5: iNat/Places follow Table 9 (per-dataset lr/epochs unpublished: the ImageNet values)"


def recipe(values: dict, source: str, config: str, **changes) -> dict:
    """`values` with `changes` (A.1's epochs), their source and the config that runs them."""
    return {**values, **changes, "source": source, "config": f"classification/configs/{config}"}


PAPER_RECIPES: dict[tuple[str, str], dict] = {
    ("paper_vit_b", "finetune"): recipe(FT_B, FT_B_SRC, "finetune_vit_base.py"),
    ("paper_vit_b", "linprobe"): recipe(LIN_B, LIN_B_SRC, "linprobe_vit_base.py"),
    ("paper_vit_b", "partial"): recipe(FT_B, FT_B_SRC + A1, "partial_vit_base.py"),
    ("paper_vit_b", "inat"): recipe(FT_B, FT_B_SRC + A5, "finetune_inat2019_vit_base.py"),
    ("paper_vit_b", "places"): recipe(FT_B, FT_B_SRC + A5, "finetune_places365_vit_base.py"),
    ("paper_vit_l", "finetune"): recipe(FT_L, FT_L_SRC, "finetune_vit_large.py"),
    ("paper_vit_l", "linprobe"): recipe(LIN_L, LIN_L_SRC, "linprobe_vit_large.py"),
    ("paper_vit_l", "partial"): recipe(FT_L, FT_L_SRC + A1, "partial_vit_large.py", epochs=100),
    ("paper_vit_l", "inat"): recipe(FT_L, FT_L_SRC + A5, "finetune_inat2019_vit_large.py"),
    ("paper_vit_l", "places"): recipe(FT_L, FT_L_SRC + A5, "finetune_places365_vit_large.py"),
}

OTHER_CONFIGS: dict[str, dict] = {
    "classification/configs/finetune_vit_base_paper.py": dict(
        blr=1e-3, layer_decay=0.75, epochs=100, drop_path=0.1, source="Table 9 for ViT-B (the paper's values)"
    ),
    "classification/configs/finetune_vit_huge.py": dict(
        blr=1e-3,
        layer_decay=0.75,
        epochs=50,
        drop_path=0.3,
        source="FINETUNE.md ViT-H (blr 1e-3, ld 0.75, dp 0.3, 50 ep); Table 9 says dp 0.2 for H",
    ),
    "classification/configs/linprobe_vit_huge.py": dict(LIN_L, source=LIN_L_SRC),
}
