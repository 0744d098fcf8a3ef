"""COCO Mask R-CNN transfer as a pure `run(cfg) -> metrics` on mmengine's runner with mmdet's parts.

Check the data (or clean it with skip_bad), train iteration-based (global batch 64 by recipe, accumulation
when fewer processes hold it), test the final weights once, and write `metrics.json`: box and mask AP, AP50,
AP75, APs/m/l (percent, as the paper), the evaluator with its version, detections per image, the dataset
fingerprint, what was skipped, and the config. Detections are kept as COCO result JSON in the work dir.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmengine.config import ConfigDict

from mae_backbone.errors import UserFacingError
from mae_backbone.runtime import dense, engine, workdir
from mae_backbone.runtime.batch import batch_plan
from mae_backbone.runtime.config import check_known_keys
from mae_backbone.runtime.distributed import prepare_launch  # registers ExactShardSampler
from mae_backbone.runtime.metric_keys import OUTCOMES_FILE
from mae_backbone.runtime.records import dataset_fingerprint

from . import evaluation as _evaluation  # noqa: F401  (registers MAECocoMetric)
from . import model as _model  # noqa: F401  (registers backbones, SimpleFPN, LN2d, ViTMaskRCNN)
from . import optim as _optim  # noqa: F401  (registers ViTLayerDecayConstructor)
from .build import dataset_cfg, model_cfg, optim_cfg, pipelines, schedulers
from .data import Split, prepare_cfg_split
from .evaluation import STAT_NAMES, evaluator_info

CONFIG_KEYS = ("protocol", *dense.CONFIG_KEYS)
PREDICTIONS = "predictions/coco"  # <work_dir>/predictions/coco.{bbox,segm}.json


def runner_kwargs(
    cfg: dict[str, Any], train: Split | None, val: Split, world_size: int, lr_scale: float | None = None
) -> tuple[dict, dict]:
    """Everything mmengine's Runner takes, plus the batch plan; all derived from the compact config."""
    data, test = cfg["data"], cfg["test"]
    plan = batch_plan(data["batch_size"], world_size, cfg["optim"]["global_batch"])
    train_pipe, test_pipe = pipelines(cfg)
    evaluator = dict(
        type="MAECocoMetric",
        ann_file=str(val.ann_file),
        evaluator=test["evaluator"],
        max_dets=test["max_per_img"],
        outfile_prefix=str(Path(cfg["work_dir"]) / PREDICTIONS),
        outcomes_file=str(Path(cfg["work_dir"]) / OUTCOMES_FILE),
    )  # per-image matches, for the report
    training = {}
    if train is not None:
        training = dict(
            train_dataset=dataset_cfg(train, train_pipe, train=True),
            optim_cfg=optim_cfg,
            param_scheduler=schedulers(cfg, plan["accum"]),
            batch_sampler=dict(type="AspectRatioBatchSampler"),
        )
    kwargs = dict(
        model=ConfigDict(model_cfg(cfg, len(val.classes))),
        **dense.iter_loop_kwargs(cfg, plan["accum"], dataset_cfg(val, test_pipe, train=False), evaluator, **training),
        # images of many sizes (aspect-ratio batches): cudnn's per-shape autotuning would not pay off
        **dense.iter_runner_kwargs(
            cfg, plan["accum"], "mmdet", "DetLocalVisualizer", cudnn_benchmark=False, lr_scale=lr_scale
        ),
    )
    return kwargs, plan


def run(cfg: dict[str, Any], lr_scale: float | None = None) -> dict[str, Any]:
    """`lr_scale`: the lr (x the config's) of a run that `--nan-retry` restarts (runtime/nonfinite.py)."""
    check_known_keys(cfg, CONFIG_KEYS, "detection config")
    work_dir, data, test = Path(cfg["work_dir"]), cfg["data"], cfg["test"]
    eval_only = bool(cfg.get("eval_only"))
    info = evaluator_info(test["evaluator"])
    if not eval_only:
        workdir.check_work_dir(work_dir, need_bytes=64 * 2**20)
    train = None if eval_only else prepare_cfg_split(data, data["train_split"], work_dir)
    val = prepare_cfg_split(data, data["val_split"], work_dir)
    if train is not None and (train.classes, train.cat_ids) != (val.classes, val.cat_ids):
        raise UserFacingError(f"{train.ann_file} and {val.ann_file} list different categories; use one release")
    world_size, launch_cfg = prepare_launch(cfg.get("launcher", "none"))  # torchrun / Slurm without CUDA: gloo
    if eval_only:
        cfg = {**cfg, "model": {**cfg["model"], "pretrained": None}}  # the trained weights come from load_from
    kwargs, plan = runner_kwargs(cfg, train, val, world_size, lr_scale)
    runner = dense.build_iter_runner(cfg, kwargs, plan, world_size, launch_cfg)
    skipped = {s.name: s.skipped for s in (train, val) if s is not None and s.skipped}
    runner.logger.info(
        f"COCO Mask R-CNN ({cfg['protocol']}): {len(val.classes)} classes; global batch {plan['global_batch']} = "
        f"{data['batch_size']} x {world_size} processes x {plan['accum']} accumulation; evaluator {info['name']} "
        f"{info['version']}, {test['max_per_img']} detections per image"
        + (f"; skipped (--skip-bad): {skipped}" if skipped else "")
    )
    train_loss = None
    if train is not None:
        runner.train()
        train_loss = engine.loss_summary(runner)
    results = runner.test()  # computed on rank 0 and broadcast: the same numbers on every rank
    prefix = runner.test_evaluator.metrics[0].prefix
    stats = {
        t: {k: results[f"{prefix}/{t}_{k}" if prefix else f"{t}_{k}"] for k in STAT_NAMES} for t in ("bbox", "segm")
    }
    metrics: dict[str, Any] = {
        t: {k: round(100 * v, 3) if v >= 0 else v for k, v in stats[t].items()} for t in ("bbox", "segm")
    }
    metrics.update(iters=None if eval_only else runner.iter // plan["accum"], **(train_loss or {}))
    engine.write_run_metrics(runner, cfg, metrics, "detect", lambda: _protocol(cfg, train, val, plan, info))
    return metrics


def _protocol(cfg: dict[str, Any], train: Split | None, val: Split, plan: dict, info: dict) -> dict[str, Any]:
    data, test = cfg["data"], cfg["test"]
    splits = [s for s in (train, val) if s is not None]
    return dict(
        dataset=dict(
            name="COCO layout",
            num_classes=len(val.classes),
            category_ids=val.cat_ids,
            **{
                s.name: {
                    **dataset_fingerprint(data["root"], s.files),
                    "images": s.num_images,
                    "annotations": s.num_annotations,
                    "skipped": s.skipped,
                }
                for s in splits
            },
        ),
        evaluator=info,
        max_dets=test["max_per_img"],
        stats=list(STAT_NAMES),
        units="AP in percent",
        test=dict(
            resize_longer_side=data["image_size"], pad_to=data["image_size"], flip=False, score_thr=test["score_thr"]
        ),
        protocol=cfg["protocol"],
        arch=cfg["arch"],
        image_size=data["image_size"],
        global_batch=plan["global_batch"],
        pretrained=cfg["model"]["pretrained"],
        expected=cfg.get("expected"),
        predictions=str(Path(cfg["work_dir"]) / PREDICTIONS) + ".{bbox,segm}.json",
        config=cfg,
    )
