"""kNN probe: the weighted vote against a brute-force reference, order invariance, separable clusters,
1 vs 2 processes, and `run(cfg)` end to end on the tiny demo world."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from classification import knn
from classification.knn import knn_accuracy, knn_predict
from mae_backbone.runtime.config import load_config
from tests.classification.helpers import IMG, tiny_backbone
from tests.conftest import TINY
from tests.distributed import run_launched

KS = [1, 5, 20, 100]


def _reference_votes(train, labels, queries, num_classes, k, temperature):
    """DINO's rule, one query at a time in float64: sort all similarities, weight the first k by exp(s/T)."""
    out = torch.zeros(len(queries), num_classes, dtype=torch.float64)
    for row, q in enumerate(queries.double()):
        sims = sorted(((float(q @ t.double()), i) for i, t in enumerate(train)), key=lambda s: -s[0])
        for s, i in sims[:k]:
            out[row, int(labels[i])] += torch.tensor(s / temperature, dtype=torch.float64).exp()
    return out


def _random_features(n, dim=16, num_classes=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, dim, generator=g), dim=1), torch.randint(0, num_classes, (n,), generator=g)


def test_weighted_vote_equals_a_brute_force_reference(monkeypatch):
    monkeypatch.setattr(knn, "TRAIN_BLOCK", 37)  # several similarity blocks, merged (the default is 65,536 rows)
    train, labels = _random_features(300)
    queries, _ = _random_features(40, seed=1)
    preds = knn_predict(train, labels, queries, 7, KS, 0.07)
    for k in KS:
        votes = _reference_votes(train, labels, queries, 7, k, 0.07)
        assert torch.equal(preds[k][:, 0], votes.argmax(1)), f"k={k}"
        # top-5 in order of the reference's votes (classes without a vote tie at 0, in any order)
        assert torch.allclose(votes.gather(1, preds[k]), votes.sort(1, descending=True).values[:, :5], rtol=1e-5)
    half = knn_predict(train.half(), labels, queries, 7, [20], 0.07)[20]  # fp16 storage: nearly the same votes
    assert (half[:, 0] == preds[20][:, 0]).float().mean() >= 0.9


def test_prediction_is_invariant_to_the_order_of_the_training_set(monkeypatch):
    monkeypatch.setattr(knn, "TRAIN_BLOCK", 50)
    train, labels = _random_features(300)
    queries, truth = _random_features(60, seed=2)
    perm = torch.randperm(300, generator=torch.Generator().manual_seed(3))
    a = knn_predict(train, labels, queries, 7, KS, 0.07)
    b = knn_predict(train[perm], labels[perm], queries, 7, KS, 0.07)
    assert all(torch.equal(a[k], b[k]) for k in KS)
    x = knn_accuracy(train, labels, queries, truth, 7, KS, 0.07)
    y = knn_accuracy(train[perm], labels[perm], queries, truth, 7, KS, 0.07)
    assert x["by_k"] == y["by_k"]
    assert all((x["outcomes"][k][f] == y["outcomes"][k][f]).all() for k in KS for f in ("hit1", "hitn", "pred"))


def test_separable_clusters_are_classified_perfectly():
    g = torch.Generator().manual_seed(0)
    centres = torch.eye(32)[:5] * 4  # 5 orthogonal directions

    def cluster(n):
        y = torch.arange(5).repeat_interleave(n)
        return F.normalize(centres[y] + 0.3 * torch.randn(len(y), 32, generator=g), dim=1), y

    train, ty = cluster(50)
    val, vy = cluster(20)
    result = knn_accuracy(train, ty, val, vy, 5, [10, 20, 100, 200], 0.07)
    assert result["num_samples"] == 100 and result["topn"] == 5
    assert all(r["top1"] == 100.0 and r["top5"] == 100.0 for r in result["by_k"].values())
    noise, _ = _random_features(100, dim=32, num_classes=5, seed=4)  # without structure: far from perfect
    assert knn_accuracy(train, ty, noise, vy, 5, [20], 0.07)["by_k"]["20"]["top1"] < 60


# ---------------------------------------------------------------- run(cfg) on the tiny demo world


def _cfg(demo_world, work_dir, root=None, **knn_cfg):
    cfg = load_config(str(Path(knn.__file__).parent / "configs" / "knn_demo.py")).to_dict()
    cfg["model"].update(img_size=IMG, **TINY)
    cfg["data"].update(root=str(root or demo_world["imagenet"]), batch_size=4, num_workers=0)
    cfg["knn"].update(knn_cfg)
    cfg.update(work_dir=str(work_dir), launcher="none")
    return copy.deepcopy(cfg)


def test_run_writes_a_knn_record(demo_world, tmp_path):
    ckpt = tiny_backbone(tmp_path / "backbone.safetensors")
    cfg = _cfg(demo_world, tmp_path / "knn", feature="mean")
    cfg["pretrained"] = str(ckpt)
    metrics = knn.run(cfg)
    record = json.loads((tmp_path / "knn" / "metrics.json").read_text())
    assert record["task"] == "knn" and record["metrics"] == metrics and record["world_size"] == 1
    assert metrics["num_samples"] == 18 and metrics["num_train"] == 36 and metrics["k"] == 20
    assert set(metrics["by_k"]) == {"10", "20", "100", "200"}
    assert metrics["top1"] == metrics["by_k"]["20"]["top1"] and 0 <= metrics["top1"] <= 100
    assert all(r["top1"] <= r["top5"] for r in metrics["by_k"].values())
    proto = record["protocol"]
    assert proto["feature"] == "mean" and proto["pooling"] == "mean of patch tokens after the final norm"
    assert proto["k"] == [10, 20, 100, 200] and proto["k_searched"] == [10, 20, 36, 36]
    assert proto["temperature"] == 0.07 and proto["feature_dtype"] == "float32" and proto["low_shot"] is None
    assert proto["dataset"]["train"]["num_files"] == 36 and proto["load_report"]["loaded"]
    assert record["config"]["knn"]["feature"] == "mean"
    outcomes = np.load(tmp_path / "knn" / "outcomes.npz")  # per image, for the report's bootstrap intervals
    assert outcomes["images"].tolist() == list(range(18))
    assert 100 * outcomes["top1/hit"].mean() == pytest.approx(metrics["top1"])
    assert 100 * outcomes["by_k.200.top5/hit"].mean() == pytest.approx(metrics["by_k"]["200"]["top5"])


def test_run_on_its_own_training_images_finds_each_one(demo_world, tmp_path):
    """Queries = the training images: at k = 1 each finds itself (a random-init encoder, cls token)."""
    cfg = _cfg(demo_world, tmp_path / "self", k=[1, 20], report_k=1)
    cfg["data"]["val_split"] = "train"
    metrics = knn.run(cfg)
    assert metrics["top1"] == 100.0 and metrics["num_samples"] == 36


def test_bad_knn_settings_are_refused(demo_world, tmp_path):
    from mae_backbone.errors import ConfigError

    with pytest.raises(ConfigError, match="knn.report_k=20 is not one of knn.k=\\[5, 10\\]"):
        knn.run(_cfg(demo_world, tmp_path / "a", k=[10, 5]))
    with pytest.raises(ConfigError, match="knn.feature 'avg': choose 'cls'"):
        knn.run(_cfg(demo_world, tmp_path / "b", feature="avg"))


def test_low_shot_subset_is_recorded(demo_world, tmp_path):
    cfg = _cfg(demo_world, tmp_path / "shots")
    cfg["data"]["shots"] = 2
    metrics = knn.run(cfg)
    record = json.loads((tmp_path / "shots" / "metrics.json").read_text())
    listed = (tmp_path / "shots" / "train_subset.txt").read_text()
    assert metrics["num_train"] == 12 and len(listed.splitlines()) == 12
    assert record["protocol"]["low_shot"]["sha256"] == hashlib.sha256(listed.encode()).hexdigest()


def _run_worker(rank: int, world: int, cfg: dict, chunk: int) -> None:
    knn.QUERY_CHUNK = chunk
    knn.run(dict(cfg, launcher="pytorch"))


@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
def test_one_and_two_processes_give_identical_results(demo_world, tmp_path, monkeypatch, dtype):
    root = Path(shutil.copytree(demo_world["imagenet"], tmp_path / "imagenet"))
    for split in ("train", "val"):  # odd sizes: the second shard is one image shorter (35 / 17 images)
        next(p for p in sorted((root / split).rglob("*")) if p.is_file()).unlink()
    monkeypatch.setattr(knn, "QUERY_CHUNK", 4)  # 5 query chunks shared out over the processes
    one = knn.run(_cfg(demo_world, tmp_path / "one", root=root, feature_dtype=dtype))
    run_launched(_run_worker, 2, _cfg(demo_world, tmp_path / "two", root=root, feature_dtype=dtype), 4)
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert two["world_size"] == 2 and (one["num_train"], one["num_samples"]) == (35, 17)
    assert two["metrics"] == one and two["protocol"]["feature_dtype"] == {"fp32": "float32", "fp16": "float16"}[dtype]


def test_pretraining_logs_a_knn_curve_and_takes_the_same_steps(demo_world, tmp_path, monkeypatch):
    from mae_backbone.pretrain import CONFIG_DIR
    from tools.pretrain import run as pretrain  # the command's run: it builds the monitor from `monitor.knn`

    def cfg(work, monitor):
        c = load_config(
            CONFIG_DIR / "mae_demo.py",
            [
                f"data.root={demo_world['pretrain']}",
                f"model.img_size={IMG}",
                "data.batch_size=8",
                "data.num_workers=0",
                "schedule.epochs=2",
                "schedule.warmup_epochs=1",
                "schedule.checkpoint_interval=2",
                "optim.precision='fp32'",
                "seed=3",
            ],
        ).to_dict()
        c["model"].update(TINY)
        return dict(c, work_dir=str(work), launcher="none", resume=None, monitor=monitor)

    plain = pretrain(cfg(tmp_path / "plain", None))
    watched = pretrain(cfg(tmp_path / "watched", dict(knn=dict(data=demo_world["imagenet"], every=1))))
    assert watched["final_loss"] == plain["final_loss"]  # the monitor leaves the run's random stream alone
    curve = watched["knn_monitor"]
    assert [(c["epoch"], c["iter"]) for c in curve] == [(1, 6), (2, 12)] and all(0 <= c["top1"] <= 100 for c in curve)
    logged = [
        json.loads(line) for p in (tmp_path / "watched").rglob("scalars.json") for line in p.read_text().splitlines()
    ]
    assert [s["knn_top1"] for s in logged if "knn_top1" in s] == [c["top1"] for c in curve]
    record = json.loads((tmp_path / "watched" / "metrics.json").read_text())
    assert record["metrics"]["knn_monitor"] == curve
