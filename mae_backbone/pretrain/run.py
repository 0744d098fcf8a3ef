"""MAE pre-training as a pure `run(cfg) -> metrics` on mmengine's runner.

The global (effective) batch defines the recipe: lr = blr * global_batch / 256, and the gradient
accumulation that reaches it is derived from the per-process batch and the world size (or refused).
At the end the encoder is exported as `backbone.safetensors` (+ JSON sidecar) and the whole model,
decoder included, as `mae_full.safetensors` for reconstruction figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from mmengine.model import BaseModel
from mmengine.runner.utils import set_random_seed

from .. import create_mae
from ..checkpoint import save_backbone
from ..factory import architecture_of
from ..optim import format_param_groups, simple_param_groups
from ..runtime import engine, workdir
from ..runtime.batch import batch_plan, refuse_no_update
from ..runtime.distributed import prepare_launch
from ..runtime.optim_wrapper import build_optim_wrapper, compile_in_place
from ..runtime.records import dataset_fingerprint, package_versions
from .data import UnlabeledImages

CONFIG_KEYS = ("arch", "model", "data", "optim", "schedule", "seed", "work_dir", "launcher", "resume", "monitor")


class MAEPretrainer(BaseModel):
    """mmengine wrapper: batches are {"inputs": images}; the loss is the MAE reconstruction loss."""

    def __init__(self, mae: torch.nn.Module, mask_ratio: float):
        super().__init__()
        self.mae, self.mask_ratio = mae, mask_ratio

    def forward(self, inputs: torch.Tensor, data_samples: Any = None, mode: str = "loss") -> dict[str, torch.Tensor]:
        loss, _, _ = self.mae(inputs, self.mask_ratio)
        return {"loss": loss}


def run(cfg: dict[str, Any], lr_scale: float | None = None, monitor: Any = None) -> dict[str, Any]:
    """`lr_scale`: the lr (x the config's) of a run that `--nan-retry` restarts (runtime/nonfinite.py).
    `monitor`: a hook that evaluates the encoder as it trains (the kNN monitor, which tools/pretrain.py builds from
    `monitor.knn`: labelled data is a task's business); its `history` goes into metrics.json as `knn_monitor`."""
    work_dir = Path(cfg["work_dir"])
    dataset = UnlabeledImages(
        cfg["data"]["root"], cfg["model"]["img_size"], tuple(cfg["data"]["scale"]), cfg["data"].get("verify", True)
    )
    world_size, launch_cfg = prepare_launch(cfg.get("launcher", "none"))  # torchrun / Slurm without CUDA: gloo
    plan = batch_plan(cfg["data"]["batch_size"], world_size, cfg["optim"]["global_batch"], cfg["optim"]["blr"])
    iters_per_epoch = len(dataset) // (cfg["data"]["batch_size"] * world_size)
    refuse_no_update(len(dataset), iters_per_epoch, cfg["data"]["batch_size"], world_size, plan["accum"])

    model_kw = {k: v for k, v in cfg["model"].items() if k != "mask_ratio"}
    set_random_seed(cfg["seed"])  # the runner seeds too, but only after the model exists: seed its init here
    mae = create_mae(cfg["arch"], **model_kw)
    workdir.check_work_dir(work_dir, need_bytes=4 * 4 * sum(p.numel() for p in mae.parameters()))
    compile_in_place(mae, cfg["optim"]["compile"])
    groups = simple_param_groups(mae, plan["lr"], cfg["optim"]["weight_decay"])
    optim_wrapper = build_optim_wrapper(
        groups,
        "AdamW",
        cfg["optim"]["precision"],
        cfg["optim"]["clip_grad"],
        plan["accum"],
        lr=plan["lr"],
        betas=tuple(cfg["optim"]["betas"]),
    )
    sched, epochs = cfg["schedule"], cfg["schedule"]["epochs"]
    warm = min(sched["warmup_epochs"], epochs)
    schedulers = (
        [dict(type="LinearLR", start_factor=1e-4, by_epoch=True, begin=0, end=warm, convert_to_iter_based=True)]
        if warm > 0
        else []
    )  # mmengine refuses an empty warmup
    if epochs > warm:
        schedulers.append(
            dict(
                type="CosineAnnealingLR",
                T_max=epochs - warm,
                eta_min=sched["min_lr"],
                by_epoch=True,
                begin=warm,
                end=epochs,
                convert_to_iter_based=True,
            )
        )
    engine.allow_mmengine_checkpoints()
    resume_from = workdir.resolve_resume(cfg.get("resume"), work_dir)
    hooks = engine.training_hooks(lr_scale=lr_scale)
    if monitor is not None:
        hooks.append(monitor)
    runner = engine.AtomicRunner(
        model=MAEPretrainer(mae, cfg["model"]["mask_ratio"]),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=dataset,
            sampler=dict(type="DefaultSampler", shuffle=True),
            batch_size=cfg["data"]["batch_size"],
            num_workers=cfg["data"]["num_workers"],
            persistent_workers=cfg["data"]["num_workers"] > 0,
            drop_last=True,
            collate_fn=dict(type="default_collate"),
        ),
        train_cfg=dict(by_epoch=True, max_epochs=epochs),
        optim_wrapper=optim_wrapper,
        param_scheduler=schedulers,
        default_hooks=dict(
            checkpoint=dict(
                type="CheckpointHook", interval=sched["checkpoint_interval"], max_keep_ckpts=2, save_last=True
            ),
            logger=dict(type="LoggerHook", interval=sched["log_interval"]),
        ),
        custom_hooks=hooks,
        visualizer=dict(
            type="Visualizer", vis_backends=[dict(type="LocalVisBackend"), dict(type="TensorboardVisBackend")]
        ),
        launcher=cfg.get("launcher", "none"),
        randomness=dict(seed=cfg["seed"]),
        resume=resume_from is not None,
        load_from=resume_from,
        cfg=dict(cfg, **launch_cfg),
    )
    runner.logger.info(
        f"effective batch {plan['global_batch']} = {cfg['data']['batch_size']} x {world_size} processes x "
        f"{plan['accum']} accumulation; lr = blr {cfg['optim']['blr']} x {plan['global_batch']} / 256 = "
        f"{plan['lr']:.4g}\n" + format_param_groups(groups)
    )
    runner.train()
    return _export(runner, mae, cfg, dataset, plan, monitor)


def _export(
    runner, mae, cfg: dict[str, Any], dataset: UnlabeledImages, plan: dict[str, Any], monitor: Any = None
) -> dict[str, Any]:
    work_dir = Path(runner.work_dir)
    scalars = runner.message_hub.log_scalars
    final_loss = float(scalars["train/loss"].mean(50)) if "train/loss" in scalars else None
    metrics = {"final_loss": final_loss, "epochs": cfg["schedule"]["epochs"], "iters": runner.iter}
    if monitor is not None:  # the curve of this run (epochs before a resume are in vis_data/scalars.json)
        metrics["knn_monitor"] = monitor.history
    if runner.rank != 0:
        return metrics
    meta = dict(
        arch_name=cfg["arch"],
        architecture=architecture_of(mae),
        img_size=cfg["model"]["img_size"],
        patch_size=mae.patch_size,
        norm_pix_loss=mae.norm_pix_loss,
        pretrain_config=dict(cfg),
        global_batch=plan["global_batch"],
        lr=plan["lr"],
        versions=package_versions(),
    )
    save_backbone(work_dir / "backbone.safetensors", mae.encoder_state_dict(), meta)
    decoder = dict(
        decoder_embed_dim=mae.decoder_embed.out_features,
        decoder_depth=len(mae.decoder_blocks),
        decoder_num_heads=mae.decoder_blocks[0].attn.num_heads,
    )
    save_backbone(work_dir / "mae_full.safetensors", mae.state_dict(), {**meta, "decoder": decoder})
    protocol = dict(
        dataset=dataset_fingerprint(dataset.root, dataset.files),
        arch=cfg["arch"],
        mask_ratio=cfg["model"]["mask_ratio"],
        norm_pix_loss=mae.norm_pix_loss,
        img_size=cfg["model"]["img_size"],
        global_batch=plan["global_batch"],
    )
    engine.write_run_metrics(runner, cfg, metrics, "pretrain", lambda: protocol)
    return metrics
