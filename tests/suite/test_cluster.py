"""`maebench suite --launcher slurm` on a real single-node Slurm (tests/suite/conftest.py): one job per stage with
`afterok` dependencies, the report last; nothing submitted twice; a cancelled stage fails and blocks what needs
it; `--status` tells it all; the metrics equal the local executor's."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.cli import main as cli
from tools.suite.config import load_suite

from .test_suite import TINY_SUITE, record, suite_args

EXPECTED = {"pretrain", *(f"{b}/{p}" for b in ("mae", "scratch") for p in load_suite(TINY_SUITE)["protocols"])}


def wait_for(work_dir: Path, timeout: float = 900) -> str:
    """Poll `--status` until no stage is pending or running (and the report job, when one is queued, ended)."""
    deadline = time.monotonic() + timeout
    jobs = json.loads((work_dir / "suite_jobs.json").read_text())
    report = jobs["stages"].get("report", {}).get("job_id")
    while True:
        out = subprocess.run(
            [sys.executable, "-m", "tools.cli", "suite", "--status", str(work_dir)],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        ).stdout
        queued = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout.split()
        states = re.findall(r"^\S+\s+(pending|running)\s", out, re.M)
        if not states and report not in queued:
            return out
        assert time.monotonic() < deadline, f"the suite did not finish on Slurm:\n{out}"
        time.sleep(2)


def jobcomp(cluster: Path) -> dict[str, dict[str, str]]:
    """Slurm's own job-completion log: job id -> JobState, StartTime, EndTime."""
    out = {}
    for line in (cluster / "jobcomp.log").read_text().splitlines():
        fields = dict(w.split("=", 1) for w in line.split() if "=" in w)
        out[fields["JobId"]] = fields
    return out


def stage_metrics(work_dir: Path, name: str) -> dict:
    """The numbers a stage measured (a sweep's top-1 per k), not what it cost (wall-clock dependent)."""
    if name.endswith("partial"):
        return json.loads((work_dir / name / "partial_sweep.json").read_text())["top1"]
    return json.loads((work_dir / name / "metrics.json").read_text())["metrics"]


@pytest.fixture(scope="module")
def on_slurm(slurm_cluster, demo_world, tmp_path_factory):
    """The tiny suite submitted to the local cluster, waited for; and the same suite run here for comparison."""
    work_dir = tmp_path_factory.mktemp("suite_slurm")
    lp = tmp_path_factory.mktemp("cfg") / "linprobe_tiny.py"  # a task config a test below edits
    lp.write_text(f"_base_ = {str(Path('classification/configs/linprobe_demo.py').resolve())!r}\n")
    overrides = [f"protocols.linprobe.config={str(lp)!r}"]
    assert cli(suite_args(demo_world, work_dir, "--launcher", "slurm", overrides=overrides)) == 0
    status = wait_for(work_dir)
    local = tmp_path_factory.mktemp("suite_local")
    assert cli(suite_args(demo_world, local, "--jobs", "2", overrides=overrides + ["report.visualize=False"])) == 0
    return work_dir, local, lp, status, overrides


def test_every_stage_is_its_own_job_in_dependency_order_and_the_report_comes_last(on_slurm, slurm_cluster):
    work_dir, _, _, status, _ = on_slurm
    rec = record(work_dir)
    assert {n for n, s in rec["stages"].items() if s["status"] == "done"} == EXPECTED, status
    assert (work_dir / "report" / "report.md").is_file()
    jobs = json.loads((work_dir / "suite_jobs.json").read_text())["stages"]
    assert len({j["job_id"] for j in jobs.values()}) == len(EXPECTED) + 1  # one job per stage, plus the report
    deadline = time.monotonic() + 60  # slurmctld appends to its completion log just after a job leaves the queue
    while not all(j["job_id"] in (ends := jobcomp(slurm_cluster)) for j in jobs.values()):
        assert time.monotonic() < deadline, (jobs, sorted(ends))
        time.sleep(1)
    t = {n: (ends[j["job_id"]]["StartTime"], ends[j["job_id"]]["EndTime"]) for n, j in jobs.items()}
    assert all(ends[j["job_id"]]["JobState"] == "COMPLETED" for j in jobs.values())
    for name, info in rec["stages"].items():
        for need in info["needs"]:  # Slurm's own clock: no stage started before what it needs had ended
            assert t[name][0] >= t[need][1], (name, need, t[name], t[need])
    spans = sorted(v for n, v in t.items() if n != "report")
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:]))  # independent stages ran at the same time
    assert all(t["report"][0] >= v[1] for v in t.values() if v is not t["report"])
    assert "done" in status and "top1" in status


def test_slurm_gives_the_local_executors_metrics(on_slurm):
    work_dir, local, *_ = on_slurm
    for name in sorted(EXPECTED - {"pretrain"}):
        assert stage_metrics(work_dir, name) == stage_metrics(local, name), name


def test_submitting_again_submits_nothing(on_slurm, demo_world, capsys):
    work_dir, _, _, _, overrides = on_slurm
    before = json.loads((work_dir / "suite_jobs.json").read_text())
    capsys.readouterr()
    assert cli(suite_args(demo_world, work_dir, "--launcher", "slurm", overrides=overrides)) == 0
    out = capsys.readouterr().out
    assert "0 stage job(s) submitted" in out and out.count("cached") == len(EXPECTED)
    assert json.loads((work_dir / "suite_jobs.json").read_text()) == before


def test_editing_a_task_config_redoes_exactly_the_stages_that_use_it(on_slurm, demo_world, capsys):
    work_dir, _, lp, _, overrides = on_slurm
    lp.write_text(lp.read_text() + "optim = dict(momentum=0.8)\n")  # was the recipe's 0.9 (no backbone sets it)
    capsys.readouterr()
    assert cli(suite_args(demo_world, work_dir, "--list", overrides=overrides)) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    redo = {n for n, line in listed.items() if "[redo:" in line}
    assert redo == {"mae/linprobe", "scratch/linprobe"}, listed
    assert "config.optim.momentum: 0.9 -> 0.8" in listed["mae/linprobe"]
    assert cli(suite_args(demo_world, work_dir, "--launcher", "slurm", overrides=overrides)) == 0
    out = capsys.readouterr().out
    assert "2 stage job(s) submitted" in out
    wait_for(work_dir)
    rec = record(work_dir)["stages"]
    assert rec["mae/linprobe"]["status"] == rec["scratch/linprobe"]["status"] == "done"
    cfg = json.loads((work_dir / "mae" / "linprobe" / "config.json").read_text())
    assert cfg["optim"]["momentum"] == 0.8


def test_a_cancelled_stage_fails_blocks_its_dependents_and_the_rest_finish(slurm_cluster, demo_world, tmp_path):
    work_dir = tmp_path / "suite"
    long = [
        "model.img_size=64",
        "data.batch_size=8",
        "data.num_workers=0",
        "schedule.epochs=50",
        "schedule.warmup_epochs=0",
        "schedule.log_interval=1",
        "optim.precision='fp32'",
    ]
    only = ["--only", "scratch/finetune,scratch/robustness,scratch/linprobe"]
    assert (
        cli(
            suite_args(
                demo_world,
                work_dir,
                "--launcher",
                "slurm",
                *only,
                overrides=[f"protocols.finetune.overrides={long!r}", "report.visualize=False"],
            )
        )
        == 0
    )
    job = json.loads((work_dir / "suite_jobs.json").read_text())["stages"]["scratch/finetune"]["job_id"]
    log = work_dir / "scratch" / "finetune" / "stage.log"
    deadline = time.monotonic() + 300
    while not (log.is_file() and "Epoch(train)" in log.read_text()):
        assert time.monotonic() < deadline, "the stage never started training"
        time.sleep(0.5)
    subprocess.run(["scancel", job], check=True)
    status = wait_for(work_dir)
    rec = record(work_dir)["stages"]
    assert rec["scratch/finetune"]["status"] == "failed" and "CANCELLED" in rec["scratch/finetune"]["error"]
    assert rec["scratch/robustness"]["status"] == "blocked"
    assert rec["scratch/linprobe"]["status"] == "done"
    rows = {line.split()[0]: line for line in status.splitlines()}
    assert " failed " in rows["scratch/finetune"] and job in rows["scratch/finetune"]
    assert " blocked " in rows["scratch/robustness"] and "needs scratch/finetune" in rows["scratch/robustness"]
    assert " done " in rows["scratch/linprobe"] and "top1" in rows["scratch/linprobe"]
    assert (work_dir / "report" / "report.md").is_file()


def test_sweep_points_are_jobs_of_their_own_and_the_refit_waits_for_both(slurm_cluster, demo_world, tmp_path):
    from .test_sweep_stages import SWEEP

    work_dir = tmp_path / "suite"
    only = ["--launcher", "slurm", "--only", "scratch/finetune"]
    assert cli(suite_args(demo_world, work_dir, *only, overrides=SWEEP)) == 0
    status = wait_for(work_dir)
    jobs = json.loads((work_dir / "suite_jobs.json").read_text())["stages"]
    points = [f"scratch/finetune/sweep/p{i}" for i in range(2)]
    ids = {n: jobs[n]["job_id"] for n in [*points, "scratch/finetune"]}
    assert len(set(ids.values())) == 3  # a job per point, and the refit's
    assert sorted(jobs["scratch/finetune"]["after"]) == sorted(ids[p] for p in points)  # afterok on both points
    deadline = time.monotonic() + 60
    while not all(j in (ends := jobcomp(slurm_cluster)) for j in ids.values()):
        assert time.monotonic() < deadline, (ids, sorted(ends))
        time.sleep(1)
    assert all(ends[j]["JobState"] == "COMPLETED" for j in ids.values())
    assert all(ends[ids["scratch/finetune"]]["StartTime"] >= ends[ids[p]]["EndTime"] for p in points)
    rec = record(work_dir)["stages"]
    assert all(rec[n]["status"] == "done" for n in ids), status
    assert json.loads((work_dir / "scratch" / "finetune" / "metrics.json").read_text())["sweep"]["chosen"]
    rows = {line.split()[0]: line for line in status.splitlines()}
    assert ids[points[1]] in rows[points[1]] and "held-out top1" in rows[points[1]]


def test_status_of_a_folder_without_a_suite_says_so(tmp_path, capsys):
    assert cli(["suite", "--status", str(tmp_path)]) == 2
    assert "no suite here" in capsys.readouterr().err


def test_tiny_suite_config_is_a_cpu_cluster():
    from tools.suite.config import load_suite

    assert load_suite(TINY_SUITE)["slurm"]["gpus_per_node"] == 0
