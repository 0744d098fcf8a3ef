"""Held-out recipe sweeps in the suite graph: a protocol with a grid is one stage per point (trained and scored on
the held-out view of the training split, never reading val) and the protocol stage, which only refits the best
point and evaluates it once; the report shows what was chosen, the held-out score and the gap."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from mae_backbone.errors import ConfigError
from tools.cli import main as cli
from tools.suite.config import load_suite
from tools.suite.stages import build_plan

from .test_suite import TINY_SUITE, record, suite_args

GRID = {"optim.blr": [1e-3, 1e-2], "aug.preset": ["light"]}
SWEEP = [f"sweep={{'finetune': {GRID!r}}}", "sweep_holdout={'fraction': 0.34, 'seed': 0}", "report.visualize=False"]


def write_suite(tmp_path: Path, body: str) -> str:
    path = tmp_path / "sweep_suite.py"
    path.write_text(f"_base_ = {TINY_SUITE!r}\n{body}\n")
    return str(path)


def test_a_grid_is_one_stage_per_point_before_its_protocol_stage(demo_world, tmp_path):
    config = write_suite(
        tmp_path,
        f"sweep = dict(finetune={GRID!r})\nsweep_holdout = dict(fraction=0.34, seed=1)\n"
        "backbones = dict(mae=dict(sweep=dict(finetune={'optim.blr': [3e-3]})), scratch=dict(sweep=dict(inat=None)))",
    )
    suite = load_suite(config, [f"data.demo.root={demo_world['root']!r}", f"work_dir={str(tmp_path / 'w')!r}"])
    stages = {s.name: s for s in build_plan(suite)}
    names = list(stages)
    # the backbone's grid replaces the suite's: mae sweeps one point, scratch the suite's two
    assert [n for n in names if "/sweep/" in n] == [
        "mae/finetune/sweep/p0",
        "scratch/finetune/sweep/p0",
        "scratch/finetune/sweep/p1",
    ]
    assert names.index("scratch/finetune/sweep/p1") < names.index("scratch/finetune")
    parent = stages["scratch/finetune"]
    assert parent.needs == ["scratch/finetune/sweep/p0", "scratch/finetune/sweep/p1"]
    assert stages["mae/finetune"].needs == ["pretrain", "mae/finetune/sweep/p0"]
    assert stages["mae/robustness"].needs == ["pretrain", "mae/finetune"]  # what needs the protocol needs its stage
    assert stages["mae/finetune/sweep/p0"].needs == ["pretrain"]
    point = stages["scratch/finetune/sweep/p1"]
    assert point.work_dir == parent.work_dir / "sweep" / "p1" and point.done_path.name == "metrics.json"
    cfg, whole = point.build_cfg(), parent.build_cfg()
    assert whole["sweep"] == dict(grid=GRID, holdout=0.34, seed=1)  # the suite's grid and held-out part
    assert cfg["sweep"]["grid"] is None and cfg["optim"]["blr"] == 1e-2 and cfg["aug"]["auto_augment"] is None
    assert cfg["data"]["root"] == str(parent.work_dir / "sweep" / "holdout")  # the view: no validation image
    assert "# point 1: optim.blr=0.01 aug.preset='light'" in point.command_line()
    assert "sweep" not in stages["scratch/linprobe"].build_cfg() or not stages["scratch/linprobe"].build_cfg()[
        "sweep"
    ].get("grid")
    for body, why in [
        ("sweep = dict(finetnue={'optim.blr': [1e-3]})", r"sweep: unknown protocol\(s\) finetnue \(did you mean"),
        (
            "sweep = dict(finetune={'optim.blrr': [1e-3]})",
            r"unknown config key\(s\) optim.blrr \(did you mean optim.blr",
        ),
        ("sweep = dict(finetune={'optim.blr': []})", r"sweep.finetune.optim.blr must be a non-empty list"),
        ("sweep = dict(robustness={'batch_size': [8]})", "maebench robustness has no held-out recipe sweep"),
        ("sweep = dict(partial={'optim.blr': [1e-3]})", r"partial: its stage sweeps already"),
        ("sweep_holdout = dict(fraction=1.5)", "sweep_holdout.fraction must lie between 0 and 1"),
        ("backbones = dict(mae=dict(sweep=dict(linprobe={'sweep.seed': [1]})))", r"unknown config key\(s\) sweep.seed"),
    ]:
        with pytest.raises(ConfigError, match=why) as err:
            load_suite(write_suite(tmp_path, body), [f"data.demo.root={demo_world['root']!r}"])
        assert "sweep_suite.py" in str(err.value)  # the error names the suite config


def test_points_run_as_stages_read_no_val_and_the_report_shows_the_choice(demo_world, tmp_path, capsys):
    data = tmp_path / "imagenet"
    shutil.copytree(demo_world["imagenet"], data)
    saved = {p: p.read_bytes() for p in (data / "val").rglob("*.*")}
    for path, raw in saved.items():  # unreadable as images, yet the same sizes: the same dataset fingerprint
        path.write_bytes(b"\0" * len(raw))
    work_dir = tmp_path / "suite"
    overrides = [*SWEEP, f"data.imagenet={str(data)!r}"]
    only = ("--only", "scratch/finetune", "--jobs", "1")
    assert cli(suite_args(demo_world, work_dir, "--list", *only, overrides=overrides)) == 0
    listed = capsys.readouterr().out
    assert (
        "scratch/finetune/sweep/p0 [run]" in listed
        and "(after scratch/finetune/sweep/p0, scratch/finetune/sweep/p1)" in listed
    )
    assert cli(suite_args(demo_world, work_dir, *only, overrides=overrides)) == 1  # the refit's val read fails
    stages = record(work_dir)["stages"]
    points = [f"scratch/finetune/sweep/p{i}" for i in range(2)]
    assert [stages[p]["status"] for p in points] == ["done", "done"], {p: stages[p].get("error") for p in points}
    assert stages["scratch/finetune"]["status"] == "failed"  # the first read of val is the refit's
    assert all(stages["scratch/finetune"]["started_s"] >= stages[p]["ended_s"] for p in points)
    for p in points:
        rec = json.loads((work_dir / p / "metrics.json").read_text())
        assert rec["protocol"]["dataset"]["val"]["root"].endswith("sweep/holdout")  # scored on the view
    done = {p: json.loads((work_dir / p / "suite_stage.json").read_text())["ended_at"] for p in points}
    for path, raw in saved.items():
        path.write_bytes(raw)
    assert cli(suite_args(demo_world, work_dir, *only, overrides=overrides)) == 0
    stages = record(work_dir)["stages"]
    assert [stages[p]["status"] for p in points] == ["cached", "cached"]  # only the refit ran
    assert {p: json.loads((work_dir / p / "suite_stage.json").read_text())["ended_at"] for p in points} == done
    assert stages["scratch/finetune"]["status"] == "done"
    rec = json.loads((work_dir / "scratch" / "finetune" / "metrics.json").read_text())
    sweep = rec["sweep"]
    assert sweep["chosen"] in ({"optim.blr": 1e-3, "aug.preset": "light"}, {"optim.blr": 1e-2, "aug.preset": "light"})
    assert sweep["gap"] == pytest.approx(sweep["val_score"] - sweep["holdout_score"])
    assert sweep["val_score"] == pytest.approx(rec["metrics"]["top1"])
    assert rec["protocol"]["dataset"]["val"]["root"] == str(data)

    md = (work_dir / "report" / "report.md").read_text()
    chosen = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in sweep["chosen"].items())
    line = next(line for line in md.splitlines() if line.startswith("- scratch, fine-tune [p1]: chosen"))
    assert f"chosen {chosen} of 2 point(s)" in line and "held-out 34% of train, seed 0" in line
    assert f"held-out top1 {sweep['holdout_score']:.1f}" in line and "gap " in line and "points cost" in line
    assert "Recipes chosen per backbone by a held-out sweep" in md and "optim.blr (2)" in md
    fine_tune_rows = [line for line in md.splitlines() if line.startswith("| scratch |")]
    assert fine_tune_rows and f"{rec['metrics']['top1']:.1f}" in fine_tune_rows[0]  # the refit's number, not a point's
    rows = list(csv.DictReader(io.StringIO((work_dir / "report" / "report.csv").read_text())))
    row = next(
        r for r in rows if (r["table"], r["column"], r["backbone"]) == ("classification", "fine-tune", "scratch")
    )
    assert row["sweep_chosen"] == chosen and float(row["sweep_gap"]) == pytest.approx(sweep["gap"], abs=1e-4)
    assert float(row["sweep_holdout_score"]) == pytest.approx(sweep["holdout_score"], abs=1e-4)
    assert row["sweep_holdout_sha256"] == sweep["holdout"]["sha256"] and row["sweep_points"] == "2"
    assert not [r for r in rows if "sweep/p" in r["metrics_file"]]  # the points are in no table

    assert cli(["suite", "--status", str(work_dir)]) == 0
    status = capsys.readouterr().out
    point = next(line for line in status.splitlines() if line.startswith("scratch/finetune/sweep/p1 "))
    assert " done " in point and "held-out top1" in point  # its number is a held-out one

    # another held-out part: the points are redone on a new view (the old one is dropped, not refused), and the
    # refit, redone because its points are new, keeps their folders (it does not train them again itself)
    other = [o.replace("'fraction': 0.34", "'fraction': 0.5") for o in overrides]
    assert cli(suite_args(demo_world, work_dir, "--list", *only, overrides=other)) == 0
    assert "[redo: changed: config.sweep.holdout: 0.34 -> 0.5]" in capsys.readouterr().out
    assert cli(suite_args(demo_world, work_dir, *only, overrides=other)) == 0
    stages = record(work_dir)["stages"]
    assert [stages[n]["status"] for n in [*points, "scratch/finetune"]] == ["done"] * 3
    assert all((work_dir / p / "suite_stage.json").is_file() for p in points)  # the refit's redo left them
    view = json.loads((work_dir / "scratch" / "finetune" / "sweep" / "holdout" / "holdout.json").read_text())
    rec = json.loads((work_dir / "scratch" / "finetune" / "metrics.json").read_text())
    assert view["fraction"] == rec["sweep"]["holdout"]["fraction"] == 0.5
