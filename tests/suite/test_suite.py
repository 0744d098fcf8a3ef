"""`maebench suite` end to end on the tiny demo world: every stage runs for real, every report cell is filled;
a second run skips finished stages, --force redoes one, a failing stage is recorded and blocks its dependents."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mae_backbone.errors import ConfigError, is_interrupt
from tools.cli import COMMANDS
from tools.cli import main as cli
from tools.suite.config import CONFIG_DIR, load_suite
from tools.suite.stages import PROTOCOLS, build_plan, select
from tools.suite.workers import InlineExecutor, resolve_jobs

TINY_SUITE = str(CONFIG_DIR / "tiny.py")
REPO = Path(__file__).resolve().parents[2]


def suite_args(demo_world, work_dir, *extra, overrides=()):
    return [
        "suite",
        TINY_SUITE,
        f"data.demo.root={demo_world['root']!r}",
        *overrides,
        "--work-dir",
        str(work_dir),
        *extra,
    ]


def record(work_dir: Path) -> dict:
    return json.loads((work_dir / "metrics.json").read_text())


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny ops on a shared 2-core machine: one thread beats a spinning OpenMP team."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def finished(demo_world, tmp_path_factory):
    """The whole tiny suite, run once for this module (the repo's most expensive test: keep it lean), two
    stages at a time in worker processes; the later runs here use this process (jobs=1)."""
    work_dir = tmp_path_factory.mktemp("suite")
    return cli(suite_args(demo_world, work_dir, "--jobs", "2")), work_dir


def test_plan_compares_mae_with_a_same_architecture_scratch_baseline(demo_world, tmp_path):
    suite = load_suite(TINY_SUITE, [f"data.demo.root={demo_world['root']!r}", f"work_dir={str(tmp_path)!r}"])
    stages = build_plan(suite)
    names = [s.name for s in stages]
    assert names[0] == "pretrain" and names.index("mae/finetune") < names.index("mae/robustness")
    assert {s.backbone for s in stages[1:]} == {"mae", "scratch"}
    assert suite["backbones"]["scratch"]["arch"] == suite["backbones"]["mae"]["arch"] == "vit_mini_patch16"
    mae_ft, scratch_ft = (next(s for s in stages if s.name == n) for n in ("mae/finetune", "scratch/finetune"))
    assert "pretrained" in mae_ft.flags and "pretrained" not in scratch_ft.flags
    assert "arch='vit_mini_patch16'" in scratch_ft.overrides and "--pretrained" in mae_ft.command_line()
    # MAE's own lr (demo.py) comes after the protocol's shared overrides, so it wins; scratch keeps the shared one
    assert mae_ft.overrides[-1] == "optim.blr=1e-2" and "optim.blr=1e-2" not in scratch_ft.overrides
    assert mae_ft.overrides[:-1] == scratch_ft.overrides
    assert [s.name for s in select(stages, ["finetune"], ["scratch"])] == ["mae/finetune"]
    with pytest.raises(ConfigError, match=r"unknown stage\(s\) finetnue \(did you mean finetune\?\)"):
        select(stages, ["finetnue"], [])
    with pytest.raises(ConfigError, match="unknown key"):
        load_suite(TINY_SUITE, ["protocls.finetune.overrides=[]"])
    with pytest.raises(ConfigError, match="source must be one of"):
        load_suite(TINY_SUITE, ["backbones.scratch.source='random'"])
    with pytest.raises(ConfigError, match=r"mae.overrides: unknown protocol\(s\) finetnue \(did you mean finetune\?\)"):
        load_suite(TINY_SUITE, ["backbones.mae.overrides={'finetnue': ['optim.blr=1e-3']}"])
    # mistakes typed in a config file (command-line overrides are already checked against the config on loading)
    for scratch, why in [
        ("overides=dict()", r"scratch: unknown key\(s\) overides \(did you mean overrides\?\)"),
        (
            "overrides=dict(finetune='optim.blr=1e-3')",
            r"backbones.scratch.overrides.finetune must be a list of 'KEY=VALUE'",
        ),
    ]:
        (tmp_path / "typo.py").write_text(f"_base_ = {TINY_SUITE!r}\nbackbones = dict(scratch=dict({scratch}))\n")
        with pytest.raises(ConfigError, match=why):
            load_suite(str(tmp_path / "typo.py"))


def test_the_whole_suite_fills_every_table_cell(finished):
    code, work_dir = finished
    rec = record(work_dir)
    stages = rec["stages"]
    assert code == 0, {n: s.get("error") for n, s in stages.items() if s["status"] != "done"}
    # every task is part of the product: a missing task module fails here
    protocols = load_suite(TINY_SUITE)["protocols"]
    assert set(stages) == {"pretrain"} | {f"{b}/{p}" for b in ("mae", "scratch") for p in protocols}
    from tools.commands import TASKS

    assert {PROTOCOLS[p].task for p in protocols} | {"pretrain"} == set(TASKS)  # the tiny suite runs every task
    for name, info in stages.items():
        assert info["status"] == "done", (name, info.get("error"))
        assert info["cpu_seconds"] > 0 and info["peak_rss_mib"]["process"] > 100, (name, info)  # cost measured
        for need in info["needs"]:  # two at a time, yet no stage started before what it needs had finished
            assert info["started_s"] >= stages[need]["ended_s"], (name, need)
    for path in work_dir.glob("**/metrics.json"):  # every task's record carries its cost (runtime/cost.py)
        if path.parent in (work_dir, work_dir / "report") or "report" in path.parts:
            continue
        cost = json.loads(path.read_text())["cost"]
        assert cost["wall_seconds"] > 0 and cost["device_seconds"] > 0 and cost["peak_rss_mib"] > 100, path
        trained = path.parent.name not in ("knn", "robustness")
        assert (cost.get("train_flops", 0) > 0 and cost["train_images"] > 0) == trained, (path, cost)
    assert rec["protocol"]["jobs"] == 2
    spans = sorted((s["started_s"], s["ended_s"]) for s in stages.values() if s["status"] == "done")
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:]))  # and some stages did run side by side
    md = (work_dir / "report" / "report.md").read_text()
    assert "| pretrain | done |" in md and " MiB |" in md
    assert "Recipes differ per backbone" in md and "mae: finetune `optim.blr=1e-2`" in md
    tables = md.split("\n### ")[1:]
    checked = 0
    for table in tables:
        rows = [
            line
            for line in table.split("\n\n")[1].splitlines()[2:]
            if line.startswith("| mae ") or line.startswith("| scratch ")
        ]
        for row in rows:
            cells = [c.strip() for c in row.strip("|").split("|")][2:]
            for cell in cells:
                assert cell[0].isdigit() and "[p" in cell, (table.splitlines()[0], row)  # a number + its protocol
                checked += 1
    assert checked >= 2 * (2 + 2 + 3)  # at least classification, transfer and the partial curve, both backbones
    gains = [line for line in md.splitlines() if line.startswith("| Δ mae − scratch")]
    assert gains and all("n/c" not in g for g in gains)  # MAE and scratch share every protocol
    csv_text = (work_dir / "report" / "report.csv").read_text()
    assert csv_text.count("\n") > checked // 2  # a row per number (the cost cells of a run are columns of it)
    figures = {p.name for p in (work_dir / "report").glob("*.png")}
    assert {"training_curves.png", "reconstructions_pretrain.png", "partial_finetune.png"} <= figures
    assert {"robustness_corruptions.png", "reconstructions_coco.png"} <= figures


def test_second_run_skips_finished_stages_and_force_redoes_one(finished, demo_world, capsys):
    _, work_dir = finished
    before = record(work_dir)["stages"]
    in_worker = json.loads((work_dir / "mae" / "linprobe" / "metrics.json").read_text())["metrics"]
    stamp = (work_dir / "mae" / "finetune" / "metrics.json").stat().st_mtime_ns
    quick = ["report.visualize=False"]  # the reconstruction figures were checked above
    assert cli(suite_args(demo_world, work_dir, "--skip", "robustness", overrides=quick)) == 0
    after = record(work_dir)["stages"]
    ran = {n for n, s in before.items() if s["status"] == "done"}
    assert {n for n, s in after.items() if s["status"] == "cached"} == ran - {"mae/robustness", "scratch/robustness"}
    assert (work_dir / "mae" / "finetune" / "metrics.json").stat().st_mtime_ns == stamp
    assert "cached" in capsys.readouterr().out
    assert cli(suite_args(demo_world, work_dir, "--only", "mae/linprobe", "--force", overrides=quick)) == 0
    assert record(work_dir)["stages"]["mae/linprobe"]["status"] == "done"
    assert record(work_dir)["protocol"]["jobs"] == 1  # auto, with this module's one thread
    # one thread in a worker and one in this process: the same numbers, bit for bit
    assert json.loads((work_dir / "mae" / "linprobe" / "metrics.json").read_text())["metrics"] == in_worker


def test_a_stage_run_with_another_recipe_is_redone_and_so_is_what_needs_it(finished, demo_world, tmp_path, capsys):
    _, work_dir = finished
    only = ["--only", "mae/finetune,mae/robustness"]
    changed = ["report.visualize=False", "backbones.mae.overrides.finetune=['optim.blr=5e-3']"]
    assert cli(suite_args(demo_world, work_dir, "--list", overrides=changed)) == 0  # says what a run would do
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "[redo: changed: config.optim.blr: 0.01 -> 0.005]" in listed["mae/finetune"]
    assert "[redo: needs the new mae/finetune]" in listed["mae/robustness"]
    assert "[cached]" in listed["mae/linprobe"] and "[cached]" in listed["scratch/finetune"]
    assert cli(suite_args(demo_world, work_dir, *only, overrides=changed)) == 0
    stages = record(work_dir)["stages"]
    assert stages["mae/finetune"]["status"] == "done"  # not "cached": its numbers came from blr 1e-2
    assert stages["mae/robustness"]["status"] == "done"
    out = capsys.readouterr().out
    assert "mae/finetune: changed: config.optim.blr: 0.01 -> 0.005: redoing it" in out
    assert "mae/robustness: needs the new mae/finetune: redoing it" in out
    recipe = json.loads((work_dir / "mae" / "finetune" / "suite_stage.json").read_text())["recipe"]
    assert recipe["config"]["optim"]["blr"] == 5e-3 and recipe["config"]["seed"] == 0
    assert any(k.startswith("{suite}/pretrain/backbone.safetensors") for k in recipe["inputs"])  # its digest
    assert cli(suite_args(demo_world, work_dir, *only, overrides=changed)) == 0  # now it matches: cached
    assert record(work_dir)["stages"]["mae/finetune"]["status"] == "cached"
    moved = tmp_path / "moved"  # paths inside the suite's folder are recorded relative to it
    shutil.copytree(work_dir, moved)
    assert cli(suite_args(demo_world, moved, *only, overrides=changed)) == 0
    assert record(moved)["stages"]["mae/finetune"]["status"] == "cached"


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_failing_stage_is_recorded_blocks_its_dependents_and_the_rest_still_runs(
    finished, demo_world, tmp_path, jobs
):
    _, done_dir = finished
    work_dir = tmp_path / "suite"
    shutil.copytree(done_dir, work_dir)
    args = suite_args(
        demo_world,
        work_dir,
        "--only",
        "scratch/finetune,scratch/robustness,scratch/linprobe",
        "--force",
        "--jobs",
        jobs,
        overrides=["protocols.finetune.overrides=['schedule.epohcs=1']", "report.visualize=False"],
    )
    assert cli(args) == 1
    stages = record(work_dir)["stages"]
    assert stages["scratch/finetune"]["status"] == "failed"
    assert "schedule.epohcs" in stages["scratch/finetune"]["error"]
    assert "Traceback" in (work_dir / "scratch" / "finetune" / "stage.log").read_text()
    assert stages["scratch/robustness"]["status"] == "blocked"
    assert stages["scratch/linprobe"]["status"] == "done"
    md = (work_dir / "report" / "report.md").read_text()
    assert "| scratch/finetune | failed | ConfigError:" in md


def test_ctrl_c_during_a_stage_records_it_as_interrupted(finished, demo_world, tmp_path):
    _, done_dir = finished
    work_dir = tmp_path / "suite"
    shutil.copytree(done_dir, work_dir)
    tiny = load_suite(TINY_SUITE, [f"data.demo.root={demo_world['root']!r}"])["protocols"]["finetune"]["overrides"]
    long = [o for o in tiny if not o.startswith("schedule.epochs=")] + ["schedule.epochs=50"]  # still running at ^C
    args = suite_args(
        demo_world,
        work_dir,
        "--only",
        "scratch/finetune",
        "--force",
        "--jobs",
        "1",
        overrides=["report.visualize=False", f"protocols.finetune.overrides={long!r}"],
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # its own session, as a terminal's Ctrl-C reaches a foreground job (a background job ignores SIGINT)
    shutil.rmtree(work_dir / "scratch" / "finetune")  # (as --force would) so that the log below is this run's
    before = record(work_dir)["stages"]["scratch/linprobe"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.cli", *args],
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log = work_dir / "scratch" / "finetune" / "stage.log"
    deadline = time.monotonic() + 300
    while not (log.is_file() and "Epoch(train)" in log.read_text()) and proc.poll() is None:
        assert time.monotonic() < deadline, "the stage never started training"
        time.sleep(0.2)
    for _ in range(5):  # mmengine's message hub swallows a Ctrl-C in a bare `except:` (a microsecond window a
        os.killpg(proc.pid, signal.SIGINT)  # checkpoint): as a user would, press it again if nothing happened
        try:
            out, _ = proc.communicate(timeout=60)
            break
        except subprocess.TimeoutExpired:
            continue
    else:
        proc.kill()
        pytest.fail(f"the suite went on after 5 Ctrl-C: {proc.communicate()[0]}")
    assert proc.returncode == 130, out
    stage = record(work_dir)["stages"]["scratch/finetune"]
    assert (stage["status"], stage["error"]) == ("failed", "interrupted")
    assert record(work_dir)["stages"]["scratch/linprobe"] == before  # the rest of the record is kept


def test_a_ctrl_c_that_mmengine_rewraps_as_a_syntax_error_still_stops_the_suite(monkeypatch):
    """CI once caught the SIGINT above inside mmengine's config formatting (each checkpoint save runs it), whose
    bare `except:` re-raised it as "SyntaxError: Failed to format the config file": the stage was recorded as a
    broken config and the suite went on. Here the Ctrl-C lands in yapf on purpose."""
    import mmengine.config.config as mm_config
    from mmengine.config import Config

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mm_config, "FormatCode", ctrl_c)
    with pytest.raises(SyntaxError, match="Failed to format") as wrapped:
        _ = Config(dict(seed=0)).pretty_text
    assert is_interrupt(wrapped.value)
    with pytest.raises(KeyboardInterrupt):
        InlineExecutor().submit(lambda: Config(dict(seed=0)).pretty_text)
    future = InlineExecutor().submit(lambda: Config(dict(seed=0)).non_existent_key)  # a real error: recorded
    assert isinstance(future.exception(), AttributeError) and not is_interrupt(future.exception())


def test_jobs_auto_runs_the_backbones_side_by_side_only_on_a_cpu_without_a_launcher(capsys):
    assert resolve_jobs(None, "none", backbones=2, threads=2, cuda=False) == 2
    assert resolve_jobs(None, "none", backbones=3, threads=2, cuda=False) == 2  # never more jobs than threads
    assert resolve_jobs(None, "none", backbones=2, threads=1, cuda=False) == 1
    assert resolve_jobs(None, "none", backbones=2, threads=16, cuda=True) == 1
    assert resolve_jobs(None, "pytorch", backbones=2, threads=16, cuda=False) == 1
    assert resolve_jobs(3, "none", backbones=2, threads=2, cuda=False) == 3
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="jobs must be"):
            resolve_jobs(bad, "none", backbones=2, threads=2, cuda=False)
    with pytest.raises(ConfigError, match="distributed suite"):
        resolve_jobs(2, "slurm", backbones=2, threads=2, cuda=False)
    assert cli(["suite", "--jobs", "two", "--list"]) == 2
    assert "--jobs: give a positive integer or 'auto', got 'two'" in capsys.readouterr().err


def test_registered_in_the_cli(capsys):
    # overrides may follow options (argparse's intermixed parsing): no "unrecognized arguments"
    assert cli(["suite", TINY_SUITE, "--list", "--only", "mae/linprobe", "seed=3"]) == 0
    assert "--seed 3" in capsys.readouterr().out
    assert COMMANDS["suite"][0] == "tools.suite.command" and COMMANDS["report"][0] == "tools.report.command"


def test_seeds_fan_out_into_one_stage_per_seed(finished, demo_world, tmp_path):
    _, done_dir = finished
    work_dir = tmp_path / "suite"
    shutil.copytree(done_dir, work_dir)
    assert (
        cli(
            suite_args(
                demo_world,
                work_dir,
                "--only",
                "scratch/linprobe",
                "--seeds",
                "0,1",
                "--jobs",
                "1",
                overrides=["report.visualize=False"],
            )
        )
        == 0
    )
    rec = record(work_dir)
    assert rec["seeds"] == [0, 1]
    for seed in (0, 1):
        stage = rec["stages"][f"scratch/linprobe/s{seed}"]
        assert (stage["status"], stage["seed"]) == ("done", seed)
        assert json.loads((work_dir / "scratch" / "linprobe" / f"s{seed}" / "metrics.json").read_text())["seed"] == seed
    stages = build_plan(load_suite(TINY_SUITE, [f"data.demo.root={demo_world['root']!r}", "seeds=[0, 1]"]))
    assert [s.name for s in stages if s.protocol == "robustness" and s.backbone == "mae"] == [
        "mae/robustness/s0",
        "mae/robustness/s1",
    ]
    assert next(s for s in stages if s.name == "mae/robustness/s1").needs == ["pretrain", "mae/finetune/s1"]
    assert sum(s.name == "pretrain" for s in stages) == 1
