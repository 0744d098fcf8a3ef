"""Each protocol runs end to end on the tiny demo world and leaves a classifier and a metrics.json."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from classification.model import build_net, trainable_names
from classification.partial import run_sweep
from classification.run import lars_groups, run
from mae_backbone.errors import CheckpointError, ConfigError

from .helpers import tiny_backbone, tiny_cfg


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    return tiny_backbone(tmp_path_factory.mktemp("ckpt") / "backbone.safetensors")


def test_finetune_writes_metrics_and_a_classifier(demo_world, backbone, tmp_path):
    cfg = tiny_cfg("finetune", demo_world, tmp_path / "ft", backbone)
    metrics = run(cfg)
    assert 0 <= metrics["top1"] <= 100 and metrics["num_samples"] == 18  # 6 classes x 3 val images, once each
    record = json.loads((tmp_path / "ft" / "metrics.json").read_text())
    proto = record["protocol"]
    assert record["task"] == "finetune" and proto["protocol"] == "finetune"
    assert proto["pooling"] == "mean of patch tokens + fc_norm" and proto["input_size"] == 64
    assert proto["eval_crop_pct"] == pytest.approx(224 / 256) and proto["eval_resize"] == 73
    assert proto["dataset"]["val"]["num_files"] == 18 and proto["dataset"]["train"]["num_files"] == 36
    assert proto["lr"] == pytest.approx(cfg["optim"]["blr"] * 8 / 256) and proto["effective_batch"] == 8
    assert "fc_norm.weight" in proto["load_report"]["new_by_design"]
    assert record["versions"]["timm"] and record["config"]["arch"] == "vit_mini_patch16"
    rows = (tmp_path / "ft" / "per_class_accuracy.csv").read_text().splitlines()
    assert rows[0] == "class,acc,count" and len(rows) == 7

    # --eval-only on the exported classifier reproduces the number; the wrong class count is refused
    ev = tiny_cfg("finetune", demo_world, tmp_path / "ev", tmp_path / "ft" / "classifier.safetensors", eval_only=True)
    assert run(ev)["top1"] == pytest.approx(metrics["top1"])
    bad = tiny_cfg(
        "finetune",
        demo_world,
        tmp_path / "bad",
        tmp_path / "ft" / "classifier.safetensors",
        eval_only=True,
        data=dict(root=demo_world["robustness"], val_split="a"),
    )  # 3 classes, head has 6
    with pytest.raises(CheckpointError, match="disagree in shape"):
        run(bad)
    assert not (tmp_path / "bad" / "metrics.json").exists()


def test_linear_probe_changes_only_the_head(demo_world, backbone, tmp_path):
    cfg = tiny_cfg("linprobe", demo_world, tmp_path / "lp", backbone)
    run(cfg)
    before, after = load_file(str(backbone)), load_file(str(tmp_path / "lp" / "classifier.safetensors"))
    changed = {k for k in after if k not in before or not torch.equal(before[k], after[k])}
    assert changed == {
        "head.0.running_mean",
        "head.0.running_var",
        "head.0.num_batches_tracked",
        "head.1.weight",
        "head.1.bias",
    }
    assert json.loads((tmp_path / "lp" / "metrics.json").read_text())["protocol"]["pooling"] == "cls token after norm"


def test_lars_step_is_the_official_update():
    net, _ = build_net("linprobe", "vit_mini_patch16", 6, dict(img_size=64, embed_dim=64, depth=4, num_heads=2))
    groups = lars_groups(net, lr=0.5)
    assert [g["param_names"] for g in groups] == [["head.1.weight"], ["head.1.bias"]]
    from timm.optim import Lars

    opt = Lars(groups, lr=0.5, momentum=0.9, weight_decay=0.0, trust_coeff=0.001)
    w, b = net.head[1].weight, net.head[1].bias
    w.grad, b.grad = torch.randn_like(w), torch.randn_like(b)
    w0, b0 = w.detach().clone(), b.detach().clone()
    opt.step()
    trust = 0.001 * w0.norm() / w.grad.norm()  # MAE util/lars.py: trust ratio on matrices, wd 0
    torch.testing.assert_close(w.detach(), w0 - 0.5 * trust * w.grad)
    torch.testing.assert_close(b.detach(), b0 - 0.5 * b.grad)  # 1-D: no trust scaling


def test_layer_decay_groups_as_the_optimizer_and_scheduler_use_them():
    from mmengine.optim.scheduler import CosineAnnealingLR

    from classification.run import schedulers
    from mae_backbone.optim import param_groups_lrd
    from mae_backbone.runtime.optim_wrapper import build_optim_wrapper

    net, _ = build_net("finetune", "vit_mini_patch16", 6, dict(img_size=64, embed_dim=64, depth=4, num_heads=2))
    wrapper = build_optim_wrapper(param_groups_lrd(net, 1e-3, 0.05, 0.5), "AdamW", "fp32", lr=1e-3)
    lrs = {g["layer_id"]: g["lr"] for g in wrapper.optimizer.param_groups}
    assert lrs[0] == pytest.approx(1e-3 * 0.5**5) and lrs[1] == pytest.approx(1e-3 * 0.5**4)
    assert lrs[5] == pytest.approx(1e-3)  # fc_norm + head at the top id (depth + 1)
    spec = schedulers(dict(epochs=2, warmup_epochs=0, min_lr=1e-5), 1e-3)[0]
    sched = CosineAnnealingLR(wrapper, T_max=10, eta_min_ratio=spec["eta_min_ratio"], by_epoch=False)
    for _ in range(10):
        sched.step()
    ends = {g["layer_id"]: g["lr"] for g in wrapper.optimizer.param_groups}
    for layer, lr in ends.items():  # each group ends at min_lr x its own scale, as the official lr_sched
        assert lr == pytest.approx(1e-5 * lrs[layer] / 1e-3)


def test_partial_trains_the_last_blocks_only():
    arch = dict(img_size=64, embed_dim=64, depth=4, num_heads=2, global_pool="token")
    net, frozen = build_net("partial", "vit_mini_patch16", 6, arch, partial=1)
    names = trainable_names(net)
    assert all(n.startswith(("blocks.3.", "norm.", "head.")) for n in names) and "blocks.3.attn.qkv.weight" in names
    assert len(frozen) == 1 + 3  # patch_embed + blocks 0..2 stay in eval mode
    net, _ = build_net("partial", "vit_mini_patch16", 6, arch, partial="mlp")
    assert {n.split(".")[2] if n.startswith("blocks") else n.split(".")[0] for n in trainable_names(net)} == {
        "norm2",
        "mlp",
        "norm",
        "head",
    }
    with pytest.raises(ConfigError, match="0..4"):
        build_net("partial", "vit_mini_patch16", 6, arch, partial=5)


def test_partial_with_every_block_is_fine_tuning():
    """k = depth trains what fine-tuning trains (the paper: "24 is full fine-tuning"), patch embedding, cls
    token and position embedding included, and freezes nothing."""
    arch = dict(img_size=64, embed_dim=64, depth=4, num_heads=2, global_pool="token")
    full, full_frozen = build_net("finetune", "vit_mini_patch16", 6, arch)
    net, frozen = build_net("partial", "vit_mini_patch16", 6, arch, partial=4)
    assert trainable_names(net) == trainable_names(full) == [n for n, _ in full.named_parameters()]
    assert {"patch_embed.proj.weight", "cls_token", "pos_embed"} <= set(trainable_names(net))
    assert frozen == full_frozen == []


def test_partial_sweep_is_resumable_and_draws_the_curve(demo_world, backbone, tmp_path):
    cfg = tiny_cfg("partial", demo_world, tmp_path / "sweep", backbone)

    def linprobe_recipe(path):
        return tiny_cfg("linprobe", demo_world, tmp_path / "unused", backbone)

    calls = []
    summary = run_sweep(cfg, [0, 1, "mlp"], linprobe_recipe, lambda c: calls.append(c) or run(c))
    assert [c["protocol"] for c in calls] == ["linprobe", "partial", "partial"]
    assert set(summary["top1"]) == {"0", "1", "mlp"}
    png = tmp_path / "sweep" / "partial_sweep.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = run_sweep(cfg, [0, 1, "mlp"], linprobe_recipe, lambda c: pytest.fail("a finished k ran again"))
    assert again["top1"] == summary["top1"]


def test_no_optimizer_step_per_epoch_is_refused(demo_world, tmp_path):
    cfg = tiny_cfg("finetune", demo_world, tmp_path / "x", optim=dict(global_batch=64))  # 36 images, batch 8
    with pytest.raises(ConfigError, match="no update would ever happen"):
        run(cfg)


def test_partial_with_global_pooling_trains_fc_norm_and_every_trainable_tensor_learns():
    """partial_demo.py pools the patch tokens: the sub-block, fc_norm and head train, and each gets a gradient."""
    arch = dict(img_size=64, embed_dim=64, depth=4, num_heads=2, global_pool="avg")
    net, _ = build_net("partial", "vit_mini_patch16", 6, arch, partial="mlp")
    names = set(trainable_names(net))
    assert {n.split(".")[2] if n.startswith("blocks") else n.split(".")[0] for n in names} == {
        "norm2",
        "mlp",
        "fc_norm",
        "head",
    }
    torch.manual_seed(0)
    torch.nn.functional.cross_entropy(net(torch.randn(4, 3, 64, 64)), torch.tensor([0, 1, 2, 3])).backward()
    assert {n for n, p in net.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0} == names


def _logged_val_top1(work_dir) -> dict[int, float]:
    """Each validation's top-1 as mmengine's logger wrote it (vis_data/scalars.json), by epoch."""
    out = {}
    for path in work_dir.glob("*/vis_data/scalars.json"):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if "top1" in row and "loss" not in row:
                out[int(row["step"])] = row["top1"]
    return out


def test_metrics_report_the_last_and_the_best_epoch_and_survive_a_resume(demo_world, backbone, tmp_path):
    """top1 = the last epoch's; top1_best / best_epoch = official main_finetune.py's "Max accuracy" (the max of
    every epoch's validation). A run resumed from epoch 1's checkpoint (saved before epoch 1 was validated)
    validates epoch 1 again and reports the same."""
    import shutil

    sched = dict(epochs=2, warmup_epochs=1, checkpoint_interval=1, log_interval=1)
    cfg = tiny_cfg("finetune", demo_world, tmp_path / "ft", backbone, schedule=sched, optim=dict(blr=5e-2))
    metrics = run(cfg)
    logged = _logged_val_top1(tmp_path / "ft")
    assert sorted(logged) == [1, 2]
    best = max(logged.values())
    assert metrics["top1"] == logged[2] and metrics["top1_best"] == best
    assert metrics["best_epoch"] == min(e for e, v in logged.items() if v == best)
    record = json.loads((tmp_path / "ft" / "metrics.json").read_text())
    assert record["metrics"]["top1_best"] == best and record["protocol"]["reported_top1"].startswith("top1: the last")

    (tmp_path / "re").mkdir()
    shutil.copy(tmp_path / "ft" / "epoch_1.pth", tmp_path / "re" / "epoch_1.pth")
    resumed = run(
        tiny_cfg("finetune", demo_world, tmp_path / "re", backbone, schedule=sched, optim=dict(blr=5e-2), resume="auto")
    )
    assert {k: resumed[k] for k in ("top1", "top1_best", "best_epoch")} == {
        k: metrics[k] for k in ("top1", "top1_best", "best_epoch")
    }
    assert _logged_val_top1(tmp_path / "re") == logged  # epoch 1 validated again on resume, to the same number
