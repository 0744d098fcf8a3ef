"""One classification run (fine-tune, linear probe, partial-k) as a pure `run(cfg) -> metrics` on mmengine's runner.

The effective batch defines the recipe: lr = blr x effective batch / 256 (printed at start); gradient
accumulation reaches it from the per-process batch and the world size, and a configuration that makes
no optimizer step in an epoch is refused (mae_backbone/runtime/batch.py). Fine-tune and partial use AdamW
over layer-decay groups (absolute lr per group); the linear probe uses LARS over the head. Warmup then
cosine, per iteration. Evaluation is exact-once (evaluate.py). metrics.json's `top1` is the last epoch's;
`top1_best` / `best_epoch` are the best validated epoch's, the "Max accuracy" official main_finetune.py prints.
Every recipe setting is read from the config (the recipes in configs/ hold each default once); only what a
command-line flag sets and a recipe leaves out (launcher, resume, eval_only) has a default here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from mmengine.evaluator import Evaluator
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import Runner
from mmengine.runner.utils import set_random_seed
from timm.layers import trunc_normal_

from mae_backbone.checkpoint import RELATIVE_POSITION_NEW, LoadReport, load_checkpoint, save_backbone
from mae_backbone.errors import ConfigError
from mae_backbone.factory import architecture_of
from mae_backbone.fileio import atomic_write_json, atomic_write_text
from mae_backbone.optim import format_param_groups, param_groups_lrd
from mae_backbone.runtime import engine, workdir
from mae_backbone.runtime.batch import batch_plan, refuse_no_update
from mae_backbone.runtime.distributed import prepare_launch
from mae_backbone.runtime.metric_keys import OUTCOMES_FILE
from mae_backbone.runtime.optim_wrapper import build_optim_wrapper
from mae_backbone.runtime.records import dataset_fingerprint, write_metrics
from mae_backbone.vit import VisionTransformer

from .datasets import LabelledImages, build_split
from .evaluate import ClassificationMetric, ExactShardSampler, per_class_csv
from .lowshot import low_shot_record
from .model import Classifier, build_net, protocol_name, trainable_names
from .split import Split
from .transforms import build_mixup, default_crop_pct, eval_transform, train_transform

CONFIG_KEYS = (
    "protocol",
    "arch",
    "pretrained",
    "partial_blocks",
    "model",
    "data",
    "aug",
    "optim",
    "schedule",
    "seed",
    "work_dir",
    "launcher",
    "resume",
    "eval_only",
    "linprobe_config",
    "sweep",
)


TOP1_HISTORY = "val_top1_by_epoch"  # message-hub key: {epoch: top1}, saved in every checkpoint


@HOOKS.register_module()
class Top1HistoryHook(Hook):
    """Top-1 of every validation by epoch, kept in the message hub so that checkpoints carry it.

    mmengine saves an epoch's checkpoint before validating that epoch, so a run resumed from epoch e's
    checkpoint has not seen e's validation: it validates e again before training on (same weights, same
    number; validation leaves the RNG alone), and the best epoch is the same as an uninterrupted run's.
    """

    priority = "LOW"

    def before_train(self, runner) -> None:
        loop, epoch = runner.train_loop, runner.epoch
        history = {e: v for e, v in (runner.message_hub.get_info(TOP1_HISTORY) or {}).items() if int(e) <= epoch}
        runner.message_hub.update_info(TOP1_HISTORY, history)
        due = epoch >= loop.val_begin and (epoch % loop.val_interval == 0 or epoch == loop.max_epochs)
        if epoch > 0 and due and str(epoch) not in history and runner.val_loop is not None:
            runner.val_loop.run()

    def after_val_epoch(self, runner, metrics: dict[str, float] | None = None) -> None:
        if metrics and "top1" in metrics:
            history = dict(runner.message_hub.get_info(TOP1_HISTORY) or {})
            history[str(runner.epoch)] = float(metrics["top1"])
            runner.message_hub.update_info(TOP1_HISTORY, history)


def best_of(history: dict[str, float]) -> dict[str, Any]:
    """`top1_best` and `best_epoch` (the earliest on a tie) of a {epoch: top1} history."""
    if not history:
        return {}
    epoch = min(history, key=lambda e: (-history[e], int(e)))
    return {"top1_best": history[epoch], "best_epoch": int(epoch)}


def lars_groups(net: torch.nn.Module, lr: float) -> list[dict[str, Any]]:
    """Official LARS semantics with timm's `Lars`: matrices get the trust ratio, 1-D tensors (biases) are
    plain momentum SGD; no weight decay anywhere (linear probe, paper Table 10)."""
    groups = []
    for adapt in (True, False):
        named = [(n, p) for n, p in net.named_parameters() if p.requires_grad and (p.ndim > 1) == adapt]
        if named:
            groups.append(
                dict(
                    params=[p for _, p in named],
                    param_names=[n for n, _ in named],
                    lr=lr,
                    weight_decay=0.0,
                    always_adapt=adapt,
                    layer_id=net.num_layers,
                    lr_scale=1.0,
                )
            )
    return groups


def schedulers(sched: dict[str, Any], lr: float) -> list[dict[str, Any]]:
    """Linear warmup then cosine to min_lr, stepped per iteration; `eta_min_ratio` keeps each layer-decay
    group's floor at min_lr x its scale, as the official lr_sched does."""
    epochs, warm = sched["epochs"], min(sched["warmup_epochs"], sched["epochs"])
    out = []
    if warm > 0:
        out.append(
            dict(type="LinearLR", start_factor=1e-6, by_epoch=True, begin=0, end=warm, convert_to_iter_based=True)
        )
    if epochs > warm:
        out.append(
            dict(
                type="CosineAnnealingLR",
                T_max=epochs - warm,
                eta_min_ratio=sched["min_lr"] / lr,
                by_epoch=True,
                begin=warm,
                end=epochs,
                convert_to_iter_based=True,
            )
        )
    return out


@dataclass
class Setup:
    """What a run builds before it trains or evaluates, and writes into its record at the end."""

    cfg: dict[str, Any]
    work_dir: Path
    net: VisionTransformer
    frozen: list[torch.nn.Module]
    train_split: Split | None  # None: --eval-only
    val_split: Split
    crop_pct: float
    world: int
    report: LoadReport | None  # None: from random initialisation
    plan: dict[str, Any] | None = None  # the batch plan of a training run (runtime/batch.py)


def run(cfg: dict[str, Any], lr_scale: float | None = None) -> dict[str, Any]:
    """`lr_scale`: the lr (x the config's) of a run that `--nan-retry` restarts (runtime/nonfinite.py)."""
    work_dir, protocol, data = Path(cfg["work_dir"]), cfg["protocol"], cfg["data"]
    partial = cfg["partial_blocks"]
    if protocol == "partial" and partial in (0, "0"):
        raise ConfigError(
            "partial k=0 is the linear probe: run it with the linprobe recipe "
            "(`maebench partial --blocks 0,...` does this for you)"
        )
    img_size = cfg["model"]["img_size"]
    crop_pct = data["eval_crop_pct"] or default_crop_pct(img_size)
    train_split = None if cfg.get("eval_only") else build_split(data, "train")
    val_split = build_split(data, "val", classes=train_split.classes if train_split else None)
    classes = val_split.classes
    val_set = LabelledImages(val_split, eval_transform(img_size, crop_pct))

    set_random_seed(cfg["seed"])  # seed the model init too, not only what the runner builds later
    net, frozen = build_net(protocol, cfg["arch"], len(classes), cfg["model"], partial)
    report = _load_weights(net, cfg, protocol)
    metric = ClassificationMetric(classes, outcomes_file=work_dir / OUTCOMES_FILE)  # per-image, for the report
    engine.allow_mmengine_checkpoints()
    world, launch_cfg = prepare_launch(cfg.get("launcher", "none"))  # torchrun / Slurm without CUDA: gloo
    setup = Setup(cfg, work_dir, net, frozen, train_split, val_split, crop_pct, world, report)
    common = dict(
        work_dir=str(work_dir),
        launcher=cfg.get("launcher", "none"),
        randomness=dict(seed=cfg["seed"]),
        val_dataloader=dict(
            dataset=val_set,
            sampler=ExactShardSampler(val_set),
            batch_size=data["eval_batch_size"],
            num_workers=data["num_workers"],
            collate_fn=dict(type="default_collate"),
        ),
        val_cfg=dict(),
        val_evaluator=Evaluator([metric]),
        cfg=dict(cfg, **launch_cfg),
        default_hooks=dict(logger=dict(type="LoggerHook", interval=cfg["schedule"]["log_interval"])),
    )
    if cfg.get("eval_only"):
        runner = engine.AtomicRunner(model=Classifier(net, frozen), **common)
        runner.val()
    else:
        runner = _train(setup, common, lr_scale)
    result = dict(metric.last)
    if setup.plan is not None:
        result.update(best_of(runner.message_hub.get_info(TOP1_HISTORY) or {}))
    if runner.rank == 0:
        _write_outputs(setup, result, runner.world_size)
    return {k: v for k, v in result.items() if k != "per_class"}


def _load_weights(net: torch.nn.Module, cfg: dict[str, Any], protocol: str) -> LoadReport | None:
    path = cfg["pretrained"]
    if not path:
        if cfg.get("eval_only"):
            raise ConfigError("--eval-only needs the classifier to evaluate: pass --pretrained CHECKPOINT")
        print("NOTICE: no pretrained checkpoint given (pretrained=''): training from random initialisation")
        return None
    if cfg.get("eval_only"):  # evaluating: the classifier head must come from the file
        report = load_checkpoint(net, path, head="require", new_by_design=RELATIVE_POSITION_NEW)
    elif isinstance(net.head, torch.nn.Sequential):
        # The probe's BN + linear head is new by construction: load the encoder without it (torch fills a
        # missing BN `num_batches_tracked` itself, which an exact key report would misread), then re-attach.
        head, net.head = net.head, torch.nn.Identity()
        try:
            report = load_checkpoint(net, path, head="reinit")
        finally:
            net.head = head
        print("NOTICE: linear-probe head (BatchNorm1d affine=False + Linear) is new and trains from scratch")
    else:
        report = load_checkpoint(net, path, head="reinit")
        if any(k.startswith("head.") for k in report.loaded):  # a new task always starts a new classifier
            head = net.head[-1] if isinstance(net.head, torch.nn.Sequential) else net.head
            trunc_normal_(head.weight, std=0.01 if protocol == "linprobe" else 2e-5)
            torch.nn.init.zeros_(head.bias)
            print("NOTICE: the checkpoint's classifier head was re-initialised (training starts a new classifier)")
    if report.reinitialised:
        print(f"NOTICE: head shape differs from the checkpoint ({', '.join(report.reinitialised)}): re-initialised")
    print(report.summary())
    return report


def _train(setup: Setup, common: dict[str, Any], lr_scale: float | None) -> Runner:
    """Train with `common` (the Runner arguments evaluation shares); sets `setup.plan`."""
    cfg, net, world = setup.cfg, setup.net, setup.world
    optim, sched, data, aug = cfg["optim"], cfg["schedule"], cfg["data"], cfg["aug"]
    protocol = cfg["protocol"]
    plan = setup.plan = batch_plan(data["batch_size"], world, optim["global_batch"], optim["blr"])
    train_set = LabelledImages(setup.train_split, train_transform(protocol, cfg["model"]["img_size"], aug))
    steps = len(train_set) // (data["batch_size"] * world)
    refuse_no_update(len(train_set), steps, data["batch_size"], world, plan["accum"])
    mixup = build_mixup(aug, len(setup.train_split.classes)) if protocol != "linprobe" else None
    if mixup is not None and data["batch_size"] % 2:
        raise ConfigError(f"mixup/cutmix need an even data.batch_size, got {data['batch_size']}")
    if protocol == "linprobe":
        groups = lars_groups(net, plan["lr"])
        kw = dict(momentum=optim["momentum"], weight_decay=0.0, trust_coeff=0.001)
    else:
        groups = param_groups_lrd(net, plan["lr"], optim["weight_decay"], optim["layer_decay"])
        kw = dict(betas=tuple(optim["betas"]))
    workdir.check_work_dir(setup.work_dir, need_bytes=3 * 4 * sum(p.numel() for p in net.parameters()))
    wrapper = build_optim_wrapper(
        groups, optim["optimizer"], optim["precision"], optim["clip_grad"], plan["accum"], lr=plan["lr"], **kw
    )
    resume_from = workdir.resolve_resume(cfg.get("resume"), setup.work_dir)
    hooks = dict(common.pop("default_hooks"))
    hooks["checkpoint"] = dict(
        type="CheckpointHook", interval=sched["checkpoint_interval"], max_keep_ckpts=2, save_last=True
    )
    runner = engine.AtomicRunner(
        model=Classifier(net, setup.frozen, mixup, aug["smoothing"] if protocol != "linprobe" else 0.0),
        train_dataloader=dict(
            dataset=train_set,
            sampler=dict(type="DefaultSampler", shuffle=True),
            batch_size=data["batch_size"],
            num_workers=data["num_workers"],
            persistent_workers=data["num_workers"] > 0,
            drop_last=True,
            collate_fn=dict(type="default_collate"),
        ),
        train_cfg=dict(by_epoch=True, max_epochs=sched["epochs"], val_interval=sched["val_interval"]),
        optim_wrapper=wrapper,
        param_scheduler=schedulers(sched, plan["lr"]),
        default_hooks=hooks,
        custom_hooks=engine.training_hooks("Top1HistoryHook", lr_scale=lr_scale),
        visualizer=dict(
            type="Visualizer", vis_backends=[dict(type="LocalVisBackend"), dict(type="TensorboardVisBackend")]
        ),
        resume=resume_from is not None,
        load_from=resume_from,
        **common,
    )
    trainable = trainable_names(net)
    runner.logger.info(
        f"{protocol_name(protocol, cfg['partial_blocks'])}: {len(trainable)} trainable tensors "
        f"({sum(p.numel() for p in net.parameters() if p.requires_grad):,} parameters)\n"
        f"effective batch {plan['global_batch']} = {data['batch_size']} x {world} processes x {plan['accum']} "
        f"accumulation; lr = blr {optim['blr']} x {plan['global_batch']} / 256 = {plan['lr']:.4g}\n"
        + format_param_groups(groups)
    )
    if steps % plan["accum"]:
        runner.logger.warning(
            f"{steps} batches per epoch is not a multiple of {plan['accum']} accumulation "
            "steps: the last update of each epoch spans two epochs"
        )
    runner.train()
    return runner


def _write_outputs(setup: Setup, result: dict[str, Any], world_size: int) -> None:
    """config.json, the per-class table, the trained classifier (with its sidecar) and metrics.json."""
    cfg, work_dir, net, val_split, train_split = (
        setup.cfg,
        setup.work_dir,
        setup.net,
        setup.val_split,
        setup.train_split,
    )
    protocol = protocol_name(cfg["protocol"], cfg["partial_blocks"])
    atomic_write_json(work_dir / "config.json", cfg)
    atomic_write_text(work_dir / "per_class_accuracy.csv", per_class_csv(result))
    img_size = cfg["model"]["img_size"]
    if not cfg.get("eval_only"):
        save_backbone(
            work_dir / "classifier.safetensors",
            net.state_dict(),
            dict(
                arch_name=cfg["arch"],
                architecture=architecture_of(net),
                img_size=img_size,
                protocol=cfg["protocol"],
                partial_blocks=cfg["partial_blocks"],
                global_pool=net.global_pool,
                num_classes=len(val_split.classes),
                classes=val_split.classes,
                kind="classifier",
            ),
        )
    pooling = "cls token after norm" if net.global_pool == "token" else "mean of patch tokens + fc_norm"
    data = cfg["data"]
    dataset = dict(
        format=data["format"],
        root=str(val_split.root),
        year=data["year"],
        version=data["version"],
        num_classes=len(val_split.classes),
        split="val",
        val=dataset_fingerprint(val_split.root, val_split.files),
    )
    if train_split is not None:
        dataset["train"] = dataset_fingerprint(train_split.root, train_split.files)
    proto = dict(
        protocol=protocol,
        pooling=pooling,
        input_size=img_size,
        eval_crop_pct=setup.crop_pct,
        eval_resize=int(img_size / setup.crop_pct),
        dataset=dataset,
        arch=cfg["arch"],
        pretrained=cfg["pretrained"] or None,
        load_report=setup.report.to_dict() if setup.report else None,
        evaluator="exact-once top-k (classification.evaluate, no padded duplicates)",
        eval_only=bool(cfg.get("eval_only")),
        low_shot=low_shot_record(train_split, work_dir),
    )
    if setup.plan:
        plan = setup.plan
        proto.update(
            optimizer=cfg["optim"]["optimizer"],
            blr=cfg["optim"]["blr"],
            lr=plan["lr"],
            effective_batch=plan["global_batch"],
            accum_iter=plan["accum"],
            epochs=cfg["schedule"]["epochs"],
            layer_decay=cfg["optim"]["layer_decay"],
            reported_top1="top1: the last epoch's; top1_best: the best validated epoch's (best_epoch), "
            "official main_finetune.py's 'Max accuracy'",
        )
    metrics = {k: v for k, v in result.items() if k != "per_class"}
    write_metrics(
        work_dir,
        metrics,
        protocol=proto,
        task=cfg["protocol"],
        seed=cfg["seed"],
        world_size=world_size,
        extra=dict(config=cfg, per_class_file="per_class_accuracy.csv"),
    )
