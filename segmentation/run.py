"""ADE20K UperNet transfer as a pure `run(cfg) -> metrics` on mmengine's runner with mmseg's parts.

Train (iteration-based, global batch 16 by recipe, accumulation when fewer processes hold it), then test
the final weights with the configured test mode, and write `metrics.json` with mIoU, mAcc, aAcc, the
per-class IoU and the protocol (test mode, crop/stride, dataset fingerprint, config, expected number).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmengine.config import ConfigDict
from mmengine.dist import broadcast_object_list

from mae_backbone.runtime import dense, engine, workdir
from mae_backbone.runtime.batch import batch_plan
from mae_backbone.runtime.config import check_known_keys
from mae_backbone.runtime.distributed import prepare_launch  # registers ExactShardSampler
from mae_backbone.runtime.metric_keys import OUTCOMES_FILE
from mae_backbone.runtime.records import dataset_fingerprint

from . import model as _model  # noqa: F401  (registers the backbone, segmentor and lr-decay constructor)
from .build import dataset_cfg, evaluation_protocol, model_cfg, optim_cfg, pipelines, schedulers
from .data import resolve_classes, split_files, validate_split
from .outcomes import OutcomeIoUMetric

CONFIG_KEYS = dense.CONFIG_KEYS


def runner_kwargs(
    cfg: dict[str, Any], classes: list[str], world_size: int, lr_scale: float | None = None
) -> tuple[dict[str, Any], dict]:
    """Everything mmengine's Runner takes, plus the batch plan; all derived from the compact config."""
    data = cfg["data"]
    plan = batch_plan(data["batch_size"], world_size, cfg["optim"]["global_batch"])
    train_pipe, test_pipe = pipelines(cfg)
    evaluator = dict(
        type=OutcomeIoUMetric.__name__,
        iou_metrics=["mIoU"],  # + per-image areas, for the report
        outcomes_file=str(Path(cfg["work_dir"]) / OUTCOMES_FILE),
    )
    training = {}
    if not cfg.get("eval_only"):
        training = dict(
            train_dataset=dataset_cfg(cfg, "train", classes, train_pipe),
            optim_cfg=optim_cfg,
            param_scheduler=schedulers(cfg, plan["accum"]),
        )
    test_dataset = dataset_cfg(cfg, "val", classes, test_pipe)
    kwargs = dict(
        model=ConfigDict(model_cfg(cfg, len(classes))),  # mmseg reads test_cfg.mode as an attribute
        **dense.iter_loop_kwargs(cfg, plan["accum"], test_dataset, evaluator, **training),
        # fixed-size crops: cudnn's autotuning pays off
        **dense.iter_runner_kwargs(cfg, plan["accum"], "mmseg", "Visualizer", cudnn_benchmark=True, lr_scale=lr_scale),
    )
    return kwargs, plan


def run(cfg: dict[str, Any], lr_scale: float | None = None) -> dict[str, Any]:
    """`lr_scale`: the lr (x the config's) of a run that `--nan-retry` restarts (runtime/nonfinite.py)."""
    check_known_keys(cfg, CONFIG_KEYS, "segmentation config")
    work_dir, data = Path(cfg["work_dir"]), cfg["data"]
    eval_only = bool(cfg.get("eval_only"))
    classes = resolve_classes(data["root"], data["num_classes"], data.get("classes"))
    splits = ("val",) if eval_only else ("train", "val")
    if data["verify"]:
        for split in splits:
            validate_split(data["root"], split, data["num_classes"])
    protocol_eval = evaluation_protocol(cfg)
    world_size, launch_cfg = prepare_launch(cfg.get("launcher", "none"))  # torchrun / Slurm without CUDA: gloo
    if eval_only:
        cfg = {**cfg, "model": {**cfg["model"], "pretrained": None}}  # the trained weights come from load_from
    kwargs, plan = runner_kwargs(cfg, classes, world_size, lr_scale)
    if not eval_only:
        workdir.check_work_dir(work_dir, need_bytes=64 * 2**20)
    runner = dense.build_iter_runner(cfg, kwargs, plan, world_size, launch_cfg)
    runner.logger.info(
        f"ADE20K UperNet: {len(classes)} classes; global batch {plan['global_batch']} = {data['batch_size']} x "
        f"{world_size} processes x {plan['accum']} accumulation; test {protocol_eval}"
    )
    train_loss = None
    if not eval_only:
        runner.train()
        train_loss = engine.loss_summary(runner)
    results = runner.test()
    per_class = [getattr(runner.test_evaluator.metrics[0], "per_class", None)]
    broadcast_object_list(per_class)  # computed on rank 0 (as `results`, which mmengine broadcasts)
    metrics = {
        "mIoU": float(results["mIoU"]),
        "mAcc": float(results["mAcc"]),
        "aAcc": float(results["aAcc"]),
        "per_class_IoU": per_class[0],
        "iters": None if eval_only else runner.iter // plan["accum"],
        **(train_loss or {}),
    }

    def protocol() -> dict[str, Any]:
        fingerprint = {s: dataset_fingerprint(data["root"], split_files(data["root"], s)) for s in splits}
        return dict(
            dataset=dict(name="ADE20K layout", num_classes=len(classes), reduce_zero_label=True, **fingerprint),
            test=protocol_eval,
            evaluator="mmseg IoUMetric",
            arch=cfg["arch"],
            crop_size=data["crop_size"],
            out_indices=list(cfg["model"]["out_indices"]),
            rel_pos_bias=cfg["model"]["rel_pos_bias"],
            global_batch=plan["global_batch"],
            pretrained=cfg["model"]["pretrained"],
            expected=cfg.get("expected"),
            config=cfg,
        )

    engine.write_run_metrics(runner, cfg, metrics, "segment", protocol)
    return metrics
