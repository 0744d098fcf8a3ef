"""Exact-once evaluation: 1 process and 2 processes (gloo, CPU) give identical metrics on an odd-sized set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from classification.datasets import LabelledImages, image_folder
from classification.evaluate import ClassificationMetric, ExactShardSampler, predict
from classification.model import build_net
from classification.split import Split
from classification.transforms import eval_transform
from tests.distributed import free_port

ARCH = dict(img_size=64, embed_dim=64, depth=4, num_heads=2, global_pool="avg")


def _odd_split(root: str) -> Split:
    full = image_folder(root, "val")
    return Split(full.root, full.files[:17], full.labels[:17], full.classes, full.format, full.split)


def _score(root: str, rank: int = 0, world: int = 1) -> dict:
    torch.manual_seed(0)  # the same random network in every process
    net, _ = build_net("finetune", "vit_mini_patch16", 6, ARCH)
    return predict(
        net,
        LabelledImages(_odd_split(root), eval_transform(64)),
        ClassificationMetric(image_folder(root, "val").classes),
        batch_size=4,
    )


def _worker(rank: int, world: int, port: int, root: str, out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        result = _score(root, rank, world)
        if rank == 0:
            Path(out).write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


def test_one_and_two_processes_give_identical_metrics(demo_world, tmp_path):
    single = _score(demo_world["imagenet"])
    assert single["num_samples"] == 17
    out = tmp_path / "two.json"
    # fork: the children inherit the imported modules (spawn would re-import torch, timm, mmengine: ~10 s each)
    mp.start_processes(
        _worker, args=(2, free_port(), demo_world["imagenet"], str(out)), nprocs=2, join=True, start_method="fork"
    )
    two = json.loads(out.read_text())
    assert two == json.loads(json.dumps(single))  # every number, per-class table included


def test_shards_cover_each_index_once_without_padding():
    data = list(range(17))
    shards = [list(ExactShardSampler(data, rank=r, world_size=3)) for r in range(3)]
    assert sorted(i for s in shards for i in s) == data and [len(s) for s in shards] == [6, 6, 5]


def test_duplicated_samples_are_refused():
    metric = ClassificationMetric(["a", "b"])
    logits = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    metric.process(None, [{"logits": logits, "label": torch.tensor([0, 1, 0]), "index": torch.tensor([0, 1, 0])}])
    with pytest.raises(RuntimeError, match="duplicates"):
        metric.evaluate(2)  # what a padded DistributedSampler would produce
