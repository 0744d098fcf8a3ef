"""From a maebench segmentation config (arch, model, data, optim, schedule, test) to mmseg/mmengine parts.

The compact config is what a user edits; everything mmseg needs is derived here from it in one pass, so
that an override such as `data.crop_size=256` changes the crop, the relative-position window, the
padding and nothing is left stale. Head widths come from the backbone instance (`ViTEncoderDecoder`), never restated.
The full resolved mmengine config is written to the work dir by the runner.
"""

from __future__ import annotations

from typing import Any

from mae_backbone.errors import ConfigError
from mae_backbone.images import IMAGENET_MEAN_255, IMAGENET_STD_255
from mae_backbone.runtime.optim_wrapper import layer_decay_adamw_cfg

from .data import ADE20KLayoutDataset, ade150_meta


def pair(v: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, float)) else (int(v[0]), int(v[1]))


def evaluation_protocol(cfg: dict[str, Any]) -> dict[str, Any]:
    """The test mode, stated next to every mIoU (user pain E10)."""
    test = cfg["test"]
    if test["mode"] not in ("slide", "whole"):
        raise ConfigError(f"test.mode must be 'slide' or 'whole', got {test['mode']!r}")
    out = {
        "mode": test["mode"],
        "scales": "single-scale",
        "flip": False,
        "resize": list(pair(cfg["data"]["scale"])),
        "keep_ratio": True,
    }
    if test["mode"] == "slide":
        out.update(crop_size=list(pair(test["crop_size"])), stride=list(pair(test["stride"])))
        if tuple(out["crop_size"]) != pair(cfg["data"]["crop_size"]):
            # The relative-position window is the training crop's grid: other windows would need resampling.
            raise ConfigError(
                f"test.crop_size {test['crop_size']} differs from data.crop_size "
                f"{cfg['data']['crop_size']}; slide with windows of the training crop"
            )
    return out


def model_cfg(cfg: dict[str, Any], num_classes: int) -> dict[str, Any]:
    m, crop = cfg["model"], pair(cfg["data"]["crop_size"])
    backbone = dict(
        type="MAEViTSegPyramid",
        arch=cfg["arch"],
        img_size=crop,
        out_indices=list(m["out_indices"]),
        drop_path_rate=m["drop_path_rate"],
        rel_pos_bias=m["rel_pos_bias"],
        pretrained=m["pretrained"] or None,
        norm=m["neck_norm"],
        vit=dict(m["vit"]),
    )
    # BN everywhere; mmengine turns it into SyncBN under DDP (`sync_bn`), as BEiT's SyncBN heads.
    norm = dict(type="BN", requires_grad=True)
    test = cfg["test"]
    test_cfg = (
        dict(mode="slide", crop_size=pair(test["crop_size"]), stride=pair(test["stride"]))
        if test["mode"] == "slide"
        else dict(mode="whole")
    )
    preproc = dict(
        type="SegDataPreProcessor",
        mean=IMAGENET_MEAN_255,
        std=IMAGENET_STD_255,
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=crop,
    )
    return dict(
        type="ViTEncoderDecoder",  # head widths (None here) are read from the backbone's feature spec
        data_preprocessor=preproc,
        backbone=backbone,
        decode_head=dict(
            type="UPerHead",
            in_channels=None,
            in_index=[0, 1, 2, 3],
            pool_scales=tuple(m["pool_scales"]),
            channels=None,  # = the ViT width (BEiT recipe)
            dropout_ratio=m["dropout_ratio"],
            num_classes=num_classes,
            norm_cfg=norm,
            align_corners=False,
            loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
        ),
        auxiliary_head=dict(
            type="FCNHead",
            in_channels=None,
            in_index=m["aux_in_index"],
            channels=m["aux_channels"],
            num_convs=1,
            concat_input=False,
            dropout_ratio=m["dropout_ratio"],
            num_classes=num_classes,
            norm_cfg=norm,
            align_corners=False,
            loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=m["aux_loss_weight"]),
        ),
        train_cfg=dict(),
        test_cfg=test_cfg,
    )


def pipelines(cfg: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    d = cfg["data"]
    # LoadAnnotations reads reduce_zero_label from the dataset (set once, in dataset_cfg) and applies it.
    train = [
        dict(type="LoadImageFromFile"),
        dict(type="LoadAnnotations"),
        dict(type="RandomResize", scale=pair(d["scale"]), ratio_range=tuple(d["ratio_range"]), keep_ratio=True),
        dict(type="RandomCrop", crop_size=pair(d["crop_size"]), cat_max_ratio=d["cat_max_ratio"]),
        dict(type="RandomFlip", prob=0.5),
        dict(type="PhotoMetricDistortion"),
        dict(type="PackSegInputs"),
    ]
    test = [
        dict(type="LoadImageFromFile"),
        dict(type="Resize", scale=pair(d["scale"]), keep_ratio=True),
        dict(type="LoadAnnotations"),  # after Resize: metrics are computed at the original resolution
        dict(type="PackSegInputs"),
    ]
    return train, test


def dataset_cfg(cfg: dict[str, Any], split: str, classes: list[str], pipeline: list[dict]) -> dict[str, Any]:
    from .data import SPLITS

    meta = ade150_meta() if list(classes) == list(ade150_meta()["classes"]) else dict(classes=tuple(classes))
    return dict(
        type=ADE20KLayoutDataset.__name__,
        data_root=cfg["data"]["root"],
        metainfo=meta,
        data_prefix=dict(img_path=f"images/{SPLITS[split]}", seg_map_path=f"annotations/{SPLITS[split]}"),
        reduce_zero_label=True,  # ADE20K: 0 = other -> ignore; 1..K -> 0..K-1 (in LoadAnnotations)
        pipeline=pipeline,
    )


def optim_cfg(cfg: dict[str, Any], wrapper: dict[str, Any]) -> dict[str, Any]:
    return layer_decay_adamw_cfg(cfg["optim"], wrapper, "LayerDecayOptimWrapperConstructor")


def schedulers(cfg: dict[str, Any], accum: int) -> list[dict[str, Any]]:
    """Linear warmup then poly decay, in optimizer steps (x accumulation in loader iterations)."""
    s = cfg["schedule"]
    total, warm = s["iters"] * accum, min(s["warmup_iters"], s["iters"]) * accum
    out = [dict(type="LinearLR", start_factor=s["warmup_ratio"], by_epoch=False, begin=0, end=warm)] if warm else []
    if total > warm:
        out.append(
            dict(type="PolyLR", eta_min=s["min_lr"], power=s["poly_power"], by_epoch=False, begin=warm, end=total)
        )
    return out
