"""The paper-scale suites (paper_vit_b.py, paper_vit_l.py) as planned: every classification stage resolves to the
published recipe, and every stage's Slurm resources hold its global batch without accumulation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mae_backbone.errors import ConfigError
from tools.suite.config import CONFIG_DIR, load_suite
from tools.suite.resources import stage_resources
from tools.suite.stages import PROTOCOLS, build_plan


@pytest.mark.parametrize("name,arch", [("paper_vit_b", "vit_base_patch16"), ("paper_vit_l", "vit_large_patch16")])
def test_paper_scale_suites_resolve_to_the_paper_recipes(name, arch, tmp_path):
    ckpt = tmp_path / "mae_official.safetensors"
    ckpt.write_bytes(b"")  # only its sidecar is read when the suite is planned
    ckpt.with_suffix(".json").write_text(json.dumps({"arch_name": arch, "img_size": 224}))
    suite = load_suite(str(CONFIG_DIR / f"{name}.py"), [f"backbones.mae_official.path={str(ckpt)!r}"])
    assert {b["arch"] for b in suite["backbones"].values()} == {arch}
    assert suite["demo"] is None and suite["data"]["imagenet"] == "data/imagenet"
    for proto, opts in suite["protocols"].items():
        if proto != "robustness":
            assert opts["config"] and Path(opts["config"]).is_file(), proto
    stages = build_plan(suite)
    assert len(stages) == 1 + 3 * len(PROTOCOLS)
    from tests.classification.paper_recipes import PAPER_RECIPES

    for stage in stages:  # every classification stage, as the suite resolves it, runs the published recipe
        want = PAPER_RECIPES.get((name, stage.protocol))
        if want is None:
            continue
        cfg = stage.build_cfg()
        got = dict(
            blr=cfg["optim"]["blr"],
            layer_decay=cfg["optim"]["layer_decay"],
            epochs=cfg["schedule"]["epochs"],
            drop_path=cfg["model"].get("drop_path_rate", 0.0),
        )
        assert got == {k: want[k] for k in got}, (stage.name, got, want["source"])
    official = next(s for s in stages if s.name == "mae_official/finetune")
    assert official.flags["pretrained"] == str(ckpt)
    for stage in stages:  # each stage's Slurm job holds its global batch without accumulation: none is refused
        cfg = stage.build_cfg("slurm")
        res = stage_resources(suite, stage.name, stage.protocol, stage.backbone, cfg)
        if res["global_batch"]:
            assert res["global_batch"] % (res["processes"] * res["batch_size"]) == 0, stage.name
            assert res["accumulation"] == 1 and res["nodes"] * res["tasks_per_node"] == res["processes"], res
    seg = next(s for s in stages if s.name == "mae/segment")
    assert stage_resources(suite, seg.name, "segment", "mae", seg.build_cfg())["processes"] == 8  # ADE20K: 16 / 2
    pre = stages[0]
    assert stage_resources(suite, "pretrain", "pretrain", None, pre.build_cfg())["nodes"] == 8  # 4096 / 64 GPUs
    with pytest.raises(ConfigError, match="do not divide its global batch 16"):
        bad = load_suite(
            str(CONFIG_DIR / f"{name}.py"),
            [f"backbones.mae_official.path={str(ckpt)!r}", "resources.segment={'gpus': 16}"],
        )
        stage_resources(bad, seg.name, "segment", "mae", seg.build_cfg())
    with pytest.raises(ConfigError, match=r"unknown resource\(s\) gpu \(did you mean gpus\?\)"):
        load_suite(
            str(CONFIG_DIR / f"{name}.py"),
            [f"backbones.mae_official.path={str(ckpt)!r}", "resources.segment={'gpu': 16}"],
        )
