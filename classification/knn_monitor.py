"""The kNN monitor of pre-training: every N epochs, the weighted-kNN top-1 of the encoder being trained on a
small labelled set (the curve researchers watch; DINO logs the same). Configured in a pre-training config as

    monitor = dict(knn=dict(data="FOLDER", every=5))   # FOLDER: an ImageFolder with train/ and val/

(`data` may also be a classification `data` dict: format, root, ...). The curve goes to the runner's
visualizer (TensorBoard and vis_data/scalars.json, tag `knn_top1`, step = iteration) and into the pre-training
record (`metrics.knn_monitor`: one {epoch, iter, top1} per evaluation). The monitor runs under a forked random
state, so pre-training takes the same steps with it on or off.
"""

from __future__ import annotations

from typing import Any

import torch
from mmengine.hooks import Hook

from mae_backbone import create_vit
from mae_backbone.checkpoint import load_into
from mae_backbone.errors import ConfigError
from mae_backbone.factory import architecture_of

from .datasets import LabelledImages, build_split
from .knn import extract_features, knn_accuracy
from .transforms import eval_transform


class KnnMonitorHook(Hook):
    """kNN top-1 (cls token, k = 20, T = 0.07 unless set) after every `every`-th epoch and after the last."""

    priority = "LOW"  # after the optimizer and scheduler hooks of the epoch

    def __init__(
        self,
        data: str | dict,
        arch: str,
        img_size: int,
        every: int = 5,
        k: int = 20,
        temperature: float = 0.07,
        feature: str = "cls",
        batch_size: int = 64,
    ):
        if isinstance(data, str):
            data = dict(format="imagefolder", root=data)
        if not data or not data.get("root"):
            raise ConfigError("monitor.knn.data: give a labelled ImageFolder (train/ and val/) for the kNN monitor")
        if int(every) < 1:
            raise ConfigError(f"monitor.knn.every={every}: give a number of epochs >= 1")
        self.data = dict(dict(num_workers=0, batch_size=batch_size), **data)
        self.arch, self.every, self.k = arch, int(every), int(k)
        self.temperature, self.feature = float(temperature), feature
        transform = eval_transform(img_size)
        train = build_split(self.data, "train")  # read now: a bad monitor set fails before any training step
        self.train = LabelledImages(train, transform)
        self.val = LabelledImages(build_split(self.data, "val", classes=train.classes), transform)
        self.history: list[dict[str, Any]] = []

    def after_train_epoch(self, runner) -> None:
        if not (self.every_n_epochs(runner, self.every) or self.is_last_train_epoch(runner)):
            return
        mae = getattr(runner.model, "module", runner.model).mae
        cuda = [mae.pos_embed.device] if mae.pos_embed.is_cuda else []
        with torch.random.fork_rng(devices=cuda):  # building the copy draws initial weights: not from the run's stream
            top1 = self.evaluate(mae)
        self.history.append(dict(epoch=runner.epoch + 1, iter=runner.iter, top1=top1))
        runner.visualizer.add_scalars({"knn_top1": top1}, step=runner.iter)
        runner.logger.info(
            f"kNN monitor, epoch {runner.epoch + 1}: top-1 {top1:.2f} (k={self.k}, "
            f"T={self.temperature}, {self.feature}; {len(self.train)} / {len(self.val)} images)"
        )

    def evaluate(self, mae: Any) -> float:
        """Top-1 of the encoder of `mae` as it is now (copied into a frozen ViT; training is not touched)."""
        device = next(mae.parameters()).device
        img_size = (mae.grid[0] * mae.patch_size, mae.grid[1] * mae.patch_size)
        net = create_vit(self.arch, img_size=img_size, global_pool="token", num_classes=0, **architecture_of(mae)).to(
            device
        )
        load_into(net, mae.encoder_state_dict(), source="the encoder being pre-trained")
        net.eval()
        kw = dict(
            feature=self.feature,
            batch_size=self.data["batch_size"],
            num_workers=self.data["num_workers"],
            device=device,
        )
        train_f, train_y = extract_features(net, self.train, **kw)
        val_f, val_y = extract_features(net, self.val, **kw)
        result = knn_accuracy(train_f, train_y, val_f, val_y, len(self.train.classes), [self.k], self.temperature)
        return result["by_k"][str(self.k)]["top1"]


def from_config(cfg: dict[str, Any]) -> KnnMonitorHook | None:
    """The monitor a pre-training config asks for (`monitor.knn.data` names a labelled set), else None."""
    knn = (cfg.get("monitor") or {}).get("knn") or {}
    if not knn.get("data"):
        return None
    return KnnMonitorHook(
        knn["data"],
        cfg["arch"],
        cfg["model"]["img_size"],
        every=knn.get("every", 5),
        batch_size=cfg["data"]["batch_size"],
    )
