"""Published numbers that a paper-scale run is compared with, and where each comes from.

Source: ../shared/reference/anchors.md (sections 1.6, 1.8, 2.3, 3.4) and the MAE paper (He et al. 2021,
arXiv 2111.06377). Provenance tags as there: [doc] the official repo's README / FINETUNE.md, [3p] a
third-party table quoting the paper, [paper] stated in the paper's text. The paper's tables are images
in our copy, so numbers found only in a table image are tagged by their secondary source.
Keys: (anchor, arch, role) with role "mae" (an MAE-pre-trained backbone) or "scratch" (random init).

`SPREADS` holds the published run-to-run spreads (FINETUNE.md's per-seed fine-tuning runs); `verdict`
sets our interval against them: reproduced within the spread, below or above, or "no published spread".
"""

from __future__ import annotations

from typing import NamedTuple


class Anchor(NamedTuple):
    value: float
    source: str  # table / figure of the paper
    tag: str  # provenance: [doc], [3p], [paper], [issue]

    def label(self) -> str:
        return f"{self.value:g} {self.tag}"


B, L, H = "vit_base_patch16", "vit_large_patch16", "vit_huge_patch14"
README = "[doc]"  # facebookresearch/mae README.md / FINETUNE.md, which match the paper's tables

ANCHORS: dict[tuple[str, str, str], Anchor] = {
    # Table 3: ImageNet-1K end-to-end fine-tuning, 224 px
    ("in1k_finetune", B, "mae"): Anchor(83.6, "Table 3", README),
    ("in1k_finetune", L, "mae"): Anchor(85.9, "Table 3", README),
    ("in1k_finetune", H, "mae"): Anchor(86.9, "Table 3", README),
    # appendix A.2: supervised ViT from scratch with the paper's recipe (Table 11), with EMA
    ("in1k_finetune", B, "scratch"): Anchor(82.3, "A.2", "[paper]"),
    ("in1k_finetune", L, "scratch"): Anchor(82.6, "A.2", "[paper]"),
    ("in1k_finetune", H, "scratch"): Anchor(83.1, "A.2", "[paper]"),
    # linear probing (Table 12 / FINETUNE.md "paper (TF/TPU)" row)
    ("in1k_linprobe", B, "mae"): Anchor(68.0, "Table 12", README),
    ("in1k_linprobe", L, "mae"): Anchor(75.8, "Table 12", README),
    ("in1k_linprobe", H, "mae"): Anchor(76.6, "Table 12", README),
    # Table 4: COCO Mask R-CNN (anchors.md 2.3)
    ("coco_box", B, "mae"): Anchor(50.3, "Table 4", "[3p]"),
    ("coco_box", L, "mae"): Anchor(53.3, "Table 4", "[3p]"),
    ("coco_mask", B, "mae"): Anchor(44.9, "Table 4", "[issue]"),
    ("coco_mask", L, "mae"): Anchor(47.2, "Table 4", "[3p]"),
    # Table 5: ADE20K UperNet mIoU (anchors.md 3.4; ViT-B reproduced by mmseg 48.13)
    ("ade20k_miou", B, "mae"): Anchor(48.1, "Table 5", "[3p]"),
    ("ade20k_miou", L, "mae"): Anchor(53.6, "Table 5", "[3p]"),
    # Table 6: transfer classification, fine-tuned on each target (README)
    ("inat2017", B, "mae"): Anchor(70.5, "Table 6", README),
    ("inat2017", L, "mae"): Anchor(75.7, "Table 6", README),
    ("inat2017", H, "mae"): Anchor(79.3, "Table 6", README),
    ("inat2018", B, "mae"): Anchor(75.4, "Table 6", README),
    ("inat2018", L, "mae"): Anchor(80.1, "Table 6", README),
    ("inat2018", H, "mae"): Anchor(83.0, "Table 6", README),
    ("inat2019", B, "mae"): Anchor(80.5, "Table 6", README),
    ("inat2019", L, "mae"): Anchor(83.4, "Table 6", README),
    ("inat2019", H, "mae"): Anchor(85.7, "Table 6", README),
    ("places205", B, "mae"): Anchor(63.9, "Table 6", README),
    ("places205", L, "mae"): Anchor(65.8, "Table 6", README),
    ("places205", H, "mae"): Anchor(65.9, "Table 6", README),
    ("places365", B, "mae"): Anchor(57.9, "Table 6", README),
    ("places365", L, "mae"): Anchor(59.4, "Table 6", README),
    ("places365", H, "mae"): Anchor(59.8, "Table 6", README),
    # Table 13: robustness of the IN-1K fine-tuned model, no dataset-specific training (IN-C: mCE, lower is better)
    ("in_a", B, "mae"): Anchor(35.9, "Table 13", README),
    ("in_a", L, "mae"): Anchor(57.1, "Table 13", README),
    ("in_a", H, "mae"): Anchor(68.2, "Table 13", README),
    ("in_r", B, "mae"): Anchor(48.3, "Table 13", README),
    ("in_r", L, "mae"): Anchor(59.9, "Table 13", README),
    ("in_r", H, "mae"): Anchor(64.4, "Table 13", README),
    ("in_sketch", B, "mae"): Anchor(34.5, "Table 13", README),
    ("in_sketch", L, "mae"): Anchor(45.3, "Table 13", README),
    ("in_sketch", H, "mae"): Anchor(49.6, "Table 13", README),
    ("in_c_mce", B, "mae"): Anchor(51.7, "Table 13", README),
    ("in_c_mce", L, "mae"): Anchor(41.8, "Table 13", README),
    ("in_c_mce", H, "mae"): Anchor(33.8, "Table 13", README),
    # Fig. 9 (ViT-L, 800 epochs, Table 1 defaults): only the points stated in the paper's text (section 4.3)
    ("partial_0", L, "mae"): Anchor(73.5, "Fig. 9", "[paper]"),
    ("partial_mlp", L, "mae"): Anchor(79.1, "Fig. 9", "[paper]"),
    ("partial_1", L, "mae"): Anchor(81.0, "Fig. 9", "[paper]"),
}
PAPER_ARCHS = frozenset(arch for _, arch, _ in ANCHORS)
# Fig. 9's points are from the paper's 800-epoch ViT-L (section 4.3); the released checkpoints are 1600 epochs
FIG9_PRETRAIN_EPOCHS = 800


class Spread(NamedTuple):
    low: float
    high: float
    source: str

    def label(self) -> str:
        return f"{self.low:g}–{self.high:g}"


# published run-to-run spreads of the same recipe (anchors.md 1.5): min-max of FINETUNE.md's per-seed runs
SPREADS: dict[tuple[str, str], Spread] = {
    ("in1k_finetune", B): Spread(83.46, 83.66, "FINETUNE.md, 4 runs: 83.63 / 83.66 / 83.52 / 83.46 [doc]"),
    ("in1k_finetune", L): Spread(85.76, 85.95, "FINETUNE.md, 4 runs: 85.95 / 85.87 / 85.76 / 85.88 [doc]"),
}


class Verdict(NamedTuple):
    word: str  # "reproduced" | "below" | "above" | "no interval"
    spread: Spread | None  # None: no published spread; the published point is used

    def label(self) -> str:
        if self.spread is None:
            return f"{self.word} (no published spread)"
        return f"{self.word} (published {self.spread.label()})"


def spread(anchor: str | None, arch: str | None, role: str) -> Spread | None:
    return SPREADS.get((anchor, arch)) if role == "mae" and anchor and arch else None


def verdict(paper: Anchor, published: Spread | None, interval: tuple[float, float] | None) -> Verdict:
    """Our interval against the published number: "reproduced" when it meets the published spread (or
    contains the published point when no spread is published), else "below" / "above" (numerically: an
    mCE above the paper's is worse)."""
    low, high = (published.low, published.high) if published else (paper.value, paper.value)
    if interval is None:
        return Verdict("no interval", published)
    if interval[1] < low:
        return Verdict("below", published)
    if interval[0] > high:
        return Verdict("above", published)
    return Verdict("reproduced", published)


def lookup(anchor: str | None, arch: str | None, role: str) -> Anchor | None:
    if anchor is None or arch is None:
        return None
    return ANCHORS.get((anchor, arch, role))
