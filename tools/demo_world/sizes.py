"""The demo world's sizes: how many images each format and split gets (read by the writer and by its README)."""

from __future__ import annotations

from typing import Any

from .corruptions import CORRUPTIONS
from .robustness import A_CLASSES, R_CLASSES
from .scenes import SHAPES, TEXTURES

SIZES: dict[str, dict[str, Any]] = {
    # unit tests: seconds. cls/inat: images per class; places: per scene; robust: A/R/Sketch per class;
    # c: clean images per class corrupted 75 ways (c_classes: how many classes, None = all)
    "tiny": dict(
        pretrain=48,
        cls=dict(train=6, val=3),
        coco=dict(train=12, val=6),
        ade=dict(training=12, validation=6),
        inat=dict(train=4, val=2),
        places=dict(train=4, val=2),
        robust=2,
        c=1,
        c_classes=2,
    ),
    # the demo suite: a few hundred images per format
    "small": dict(
        pretrain=600,
        cls=dict(train=80, val=50),
        coco=dict(train=160, val=40),
        ade=dict(training=160, validation=40),
        inat=dict(train=60, val=15),
        places=dict(train=100, val=20),
        robust=10,
        c=2,
        c_classes=None,
    ),
}


def counts(size: str) -> dict[str, Any]:
    """Images per format and split for a size."""
    s, n_cls, n_tex = SIZES[size], len(SHAPES), len(TEXTURES)
    c_classes = s["c_classes"] or n_cls
    return {
        "pretrain": s["pretrain"],
        "imagenet": {k: v * n_cls for k, v in s["cls"].items()},
        "coco": dict(s["coco"]),
        "ade": dict(s["ade"]),
        "inat": {k: v * n_cls for k, v in s["inat"].items()},
        "places": {k: v * n_tex for k, v in s["places"].items()},
        "robustness": {
            "a": s["robust"] * len(A_CLASSES),
            "r": s["robust"] * len(R_CLASSES),
            "sketch": s["robust"] * n_cls,
            "c": s["c"] * c_classes * len(CORRUPTIONS) * 5,
        },
    }
