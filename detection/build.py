"""From a maebench detection config (arch, protocol, model, data, optim, schedule, test) to mmdet's parts.

The compact config is what a user edits; every mmdet/mmengine setting is derived from it here in one pass,
so `data.image_size=640` changes the ViT's position grid, the relative-position windows, the jitter target,
the crop and the padding together, and `test.max_per_img=300` reaches both the model and the evaluator.
Neck widths are read from the backbone instance (`ViTMaskRCNN`); the heads' widths follow the neck's.
"""

from __future__ import annotations

from typing import Any

from mae_backbone.errors import ConfigError
from mae_backbone.images import IMAGENET_MEAN_255, IMAGENET_STD_255
from mae_backbone.runtime.optim_wrapper import layer_decay_adamw_cfg

from .data import Split

PROTOCOLS = ("benchmarking", "vitdet")
FPN_STRIDES = [4, 8, 16, 32]  # pyramid levels read by the RoI heads; the RPN also uses p6 (stride 64)


def _norm(cfg: dict[str, Any]) -> dict[str, Any]:
    """Neck and head norm: LayerNorm for ViTDet; BN (SyncBN under DDP, as MIMDet) or GN for benchmarking."""
    if cfg["protocol"] == "vitdet":
        return dict(type="LN2d")
    kind = cfg["model"]["head_norm"]
    if kind == "BN":
        return dict(type="BN", requires_grad=True)
    if kind == "GN":
        return dict(type="GN", num_groups=32, requires_grad=True)
    raise ConfigError(f"model.head_norm must be 'BN' or 'GN', got {kind!r}")


def backbone_cfg(cfg: dict[str, Any]) -> dict[str, Any]:
    m, protocol = cfg["model"], cfg["protocol"]
    common = dict(
        arch=cfg["arch"],
        img_size=cfg["data"]["image_size"],
        window_size=m["window_size"],
        drop_path_rate=m["drop_path_rate"],
        rel_pos_bias=m["rel_pos_bias"],
        pretrained=m["pretrained"] or None,
        vit=dict(m["vit"]),
    )
    if protocol == "benchmarking":
        return dict(
            type="MAEViTPyramid",
            out_indices=m["out_indices"],
            norm=m["pyramid_norm"],
            adapter_init=m["adapter_init"],
            **common,
        )
    if protocol == "vitdet":
        return dict(
            type="MAEViTSimplePyramid",
            global_attn_indexes=m["out_indices"],
            pretrain_img_size=m["pretrain_img_size"],
            **common,
        )
    raise ConfigError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")


def _assigner(pos: float, neg: float) -> dict[str, Any]:
    """Mask R-CNN's IoU assigner: positive from `pos`, negative below `neg`; a ground truth's best match of at
    least `neg` is positive too."""
    return dict(
        type="MaxIoUAssigner",
        pos_iou_thr=pos,
        neg_iou_thr=neg,
        min_pos_iou=neg,
        match_low_quality=True,
        ignore_iof_thr=-1,
    )


def model_cfg(cfg: dict[str, Any], num_classes: int) -> dict[str, Any]:
    m, t, size = cfg["model"], cfg["test"], cfg["data"]["image_size"]
    c, norm = m["neck_channels"], _norm(cfg)
    neck_type = "FPN" if cfg["protocol"] == "benchmarking" else "SimpleFPN"
    roi = lambda out: dict(
        type="SingleRoIExtractor",
        out_channels=c,
        featmap_strides=FPN_STRIDES,  # noqa: E731
        roi_layer=dict(type="RoIAlign", output_size=out, sampling_ratio=0),
    )
    return dict(
        type="ViTMaskRCNN",
        # every image is padded to image_size x image_size (LSJ crops and resized test images fit inside), so
        # the ViT always sees its own grid: exact relative-position windows, no run-time resampling
        data_preprocessor=dict(
            type="DetDataPreprocessor",
            mean=IMAGENET_MEAN_255,
            std=IMAGENET_STD_255,
            bgr_to_rgb=True,
            pad_size_divisor=size,
            pad_mask=True,
        ),
        backbone=backbone_cfg(cfg),
        neck=dict(type=neck_type, in_channels=None, out_channels=c, num_outs=5, norm_cfg=norm),
        rpn_head=dict(
            type="RPNHead",
            in_channels=c,
            feat_channels=c,
            num_convs=2,  # 2-conv RPN (ViTDet, MIMDet)
            anchor_generator=dict(
                type="AnchorGenerator", scales=[8], ratios=[0.5, 1.0, 2.0], strides=FPN_STRIDES + [64]
            ),
            bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[1.0] * 4),
            loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0),
            loss_bbox=dict(type="L1Loss", loss_weight=1.0),
        ),
        roi_head=dict(
            type="StandardRoIHead",
            bbox_roi_extractor=roi(7),
            bbox_head=dict(
                type="Shared4Conv1FCBBoxHead",
                in_channels=c,
                conv_out_channels=c,
                norm_cfg=norm,
                fc_out_channels=m["roi_fc_channels"],
                roi_feat_size=7,
                num_classes=num_classes,
                bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[0.1, 0.1, 0.2, 0.2]),
                reg_class_agnostic=False,
                loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
                loss_bbox=dict(type="L1Loss", loss_weight=1.0),
            ),
            mask_roi_extractor=roi(14),
            mask_head=dict(
                type="FCNMaskHead",
                num_convs=4,
                in_channels=c,
                conv_out_channels=c,
                norm_cfg=norm,
                num_classes=num_classes,
                loss_mask=dict(type="CrossEntropyLoss", use_mask=True, loss_weight=1.0),
            ),
        ),
        train_cfg=dict(
            rpn=dict(
                assigner=_assigner(pos=0.7, neg=0.3),
                sampler=dict(type="RandomSampler", num=256, pos_fraction=0.5, neg_pos_ub=-1, add_gt_as_proposals=False),
                allowed_border=-1,
                pos_weight=-1,
                debug=False,
            ),
            rpn_proposal=dict(
                nms_pre=2000, max_per_img=m["rpn_proposals"], nms=dict(type="nms", iou_threshold=0.7), min_bbox_size=0
            ),
            rcnn=dict(
                assigner=_assigner(pos=0.5, neg=0.5),
                sampler=dict(
                    type="RandomSampler",
                    num=m["rcnn_rois_per_image"],
                    pos_fraction=0.25,
                    neg_pos_ub=-1,
                    add_gt_as_proposals=True,
                ),
                mask_size=28,
                pos_weight=-1,
                debug=False,
            ),
        ),
        test_cfg=dict(
            rpn=dict(
                nms_pre=1000, max_per_img=m["rpn_proposals"], nms=dict(type="nms", iou_threshold=0.7), min_bbox_size=0
            ),
            rcnn=dict(
                score_thr=t["score_thr"],
                nms=dict(type="nms", iou_threshold=0.5),
                max_per_img=t["max_per_img"],
                mask_thr_binary=0.5,
            ),
        ),
    )


def pipelines(cfg: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    d = cfg["data"]
    size = (d["image_size"], d["image_size"])
    train = [  # large-scale jitter (LSJ): resize by 0.1-2.0 of the target, crop the target size, flip
        dict(type="LoadImageFromFile"),
        dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
        dict(type="RandomResize", scale=size, ratio_range=tuple(d["scale_range"]), keep_ratio=True),
        dict(
            type="RandomCrop", crop_type="absolute_range", crop_size=size, recompute_bbox=True, allow_negative_crop=True
        ),
        dict(type="FilterAnnotations", min_gt_bbox_wh=(1e-2, 1e-2)),
        dict(type="RandomFlip", prob=0.5),
        dict(type="PackDetInputs"),
    ]
    test = [  # longer side to image_size (ViTDet: ResizeShortestEdge 1024, max 1024), padded by the preprocessor
        dict(type="LoadImageFromFile"),
        dict(type="Resize", scale=size, keep_ratio=True),
        dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
        dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
    ]
    return train, test


def dataset_cfg(split: Split, pipeline: list[dict], train: bool) -> dict[str, Any]:
    return dict(
        type="CocoDataset",
        data_root="",
        ann_file=str(split.ann_file),
        data_prefix=dict(img=str(split.img_dir) + "/"),
        metainfo=dict(classes=tuple(split.classes)),
        filter_cfg=dict(filter_empty_gt=True, min_size=0) if train else None,
        test_mode=not train,
        pipeline=pipeline,
    )


def optim_cfg(cfg: dict[str, Any], wrapper: dict[str, Any]) -> dict[str, Any]:
    out = layer_decay_adamw_cfg(cfg["optim"], wrapper, "ViTLayerDecayConstructor")
    out["paramwise_cfg"]["no_weight_decay"] = tuple(cfg["optim"]["no_weight_decay"])  # the recipe's rule (optim.py)
    return out


def schedulers(cfg: dict[str, Any], accum: int) -> list[dict[str, Any]]:
    """Linear warmup, then step decay (ViTDet: x0.1 at 88.9% and 96.3%) or cosine (MIMDet), per optimizer step."""
    s = cfg["schedule"]
    total, warm = s["iters"] * accum, min(s["warmup_iters"], s["iters"]) * accum
    out = [dict(type="LinearLR", start_factor=s["warmup_ratio"], by_epoch=False, begin=0, end=warm)] if warm else []
    if s["policy"] == "step":
        milestones = [int(round(f * s["iters"])) * accum for f in s["milestones"]]
        out.append(dict(type="MultiStepLR", milestones=milestones, gamma=0.1, by_epoch=False, begin=0, end=total))
    elif s["policy"] == "cosine":
        if total > warm:
            out.append(
                dict(type="CosineAnnealingLR", T_max=total - warm, eta_min=0.0, by_epoch=False, begin=warm, end=total)
            )
    else:
        raise ConfigError(f"schedule.policy must be 'step' or 'cosine', got {s['policy']!r}")
    return out
