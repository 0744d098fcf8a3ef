"""The Slurm executor: the suite as a graph of Slurm jobs, one per stage, submitted through submitit.

`maebench suite CONFIG --launcher slurm` on a login node submits every selected stage that is not cached as its
own job, sized by tools/suite/resources.py, with `afterok` dependencies on the jobs of the stages it needs
(`kill-on-invalid-dep`: when a stage fails, Slurm cancels what depends on it and the rest go on). Independent
stages queue at once and run concurrently. The report is the last job (`afterany`: it runs whatever failed).
The command prints a table of stage, job id and resources and returns: nothing stays alive on the login node.

Nothing is submitted twice: job ids go to `<work_dir>/suite_jobs.json`, and a stage whose job is pending or
running, or whose result is still valid, gets no new job (`--force` resubmits the stages named by --only).
A job that is preempted or reaches its time limit requeues itself (submitit's checkpoint) and the stage resumes
from its newest complete checkpoint; a stage that fails is retried in its job `slurm.retries` times, then
recorded as failed with its error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, TextIO

from mae_backbone.errors import ConfigError
from mae_backbone.fileio import atomic_write_json

from . import record
from .cache import recipe, stage_action
from .execute import run_stage, write_stage
from .resources import minutes, stage_resources
from .stages import Stage

JOBS_FILE = "suite_jobs.json"
LIVE = ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED")


def squeue(job_ids: list[str]) -> dict[str, str]:
    """Job id -> Slurm state for the jobs Slurm still knows (pending, running and recently finished ones)."""
    if not job_ids:
        return {}
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%i %T", "-j", ",".join(job_ids)], capture_output=True, text=True
    )
    states = dict(line.split()[:2] for line in out.stdout.splitlines() if len(line.split()) >= 2)
    for job in job_ids:  # squeue forgets finished jobs quickly; scontrol keeps them for MinJobAge
        if job not in states:
            show = subprocess.run(["scontrol", "-o", "show", "job", job], capture_output=True, text=True).stdout
            field = next((w for w in show.split() if w.startswith("JobState=")), None)
            if field:
                states[job] = field.split("=", 1)[1]
    return states


class StageJob:
    """What a stage's Slurm job runs (pickled by submitit), in every task of the job."""

    def __init__(self, stage: Stage, root: str, retries: int, cpus: int, processes: int):
        self.stage, self.root, self.retries, self.cpus, self.processes = stage, root, retries, cpus, processes

    def __call__(self) -> dict[str, Any]:
        import torch

        os.environ.setdefault("OMP_NUM_THREADS", str(self.cpus))
        torch.set_num_threads(self.cpus)
        job = os.environ.get("SLURM_JOB_ID")
        launcher = "slurm" if self.processes > 1 else "none"
        for attempt in range(1, self.retries + 2):
            write_stage(self.stage, attempts=attempt)
            try:
                return run_stage(self.stage, Path(self.root), launcher, job_id=job)
            except Exception:
                if attempt > self.retries:
                    raise  # the job fails: Slurm cancels the stages that need this one
                time.sleep(5)

    def checkpoint(self) -> Any:  # preempted or at its time limit: requeue; the stage resumes (resume="auto")
        import submitit

        return submitit.helpers.DelayedSubmission(
            StageJob(self.stage, self.root, self.retries, self.cpus, self.processes)
        )


class ReportJob:
    """The last job: the suite record from the stages' records, then the report."""

    def __init__(self, suite: dict[str, Any], planned: list[Stage]):
        self.suite, self.planned = suite, planned

    def __call__(self) -> str:
        info = settle(self.suite, self.planned)
        record.write(self.suite, info, "slurm", executor="slurm")
        from tools.report import build_report

        return str(
            build_report(
                [Path(self.suite["work_dir"])], Path(self.suite["work_dir"]) / "report", **self.suite.get("report", {})
            )["markdown"]
        )


def read_jobs(root: Path) -> dict[str, Any]:
    path = root / JOBS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def settle(suite: dict[str, Any], planned: list[Stage]) -> dict[str, dict[str, Any]]:
    """Each stage's state from its record and its job's Slurm state: a stage whose job ended without a record of
    finishing failed (cancelled, out of time or memory, node failure); one that never started because a stage it
    needs failed is blocked."""
    root = Path(suite["work_dir"])
    jobs = read_jobs(root)
    info = record.from_stage_records(suite, planned)
    live = squeue(sorted({j["job_id"] for j in jobs.get("stages", {}).values()}))
    for s in planned:  # plan order: a stage's needs are settled before it
        entry, job = info[s.name], jobs.get("stages", {}).get(s.name)
        if job is None or entry["status"] in ("done", "failed"):
            continue
        entry["job_id"] = job["job_id"]
        state = live.get(job["job_id"], "UNKNOWN")
        entry["slurm_state"] = state
        if state in LIVE:
            entry["status"] = "running" if state in ("RUNNING", "COMPLETING") else "pending"
            continue
        if any(info[n]["status"] in ("failed", "blocked") for n in s.needs):
            failed = ", ".join(n for n in s.needs if info[n]["status"] in ("failed", "blocked"))
            entry.update(status="blocked", error=f"needs {failed}")
        elif entry["status"] in ("running", "not run", "pending"):
            entry.update(status="failed", error=entry.get("error") or f"its job {job['job_id']} ended: {state}")
        else:
            continue
        if state != "UNKNOWN":  # Slurm said how it ended: kept, as Slurm forgets finished jobs
            write_stage(
                s,
                status=entry["status"],
                error=entry["error"],
                ended_at=entry.get("ended_at") or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            )
    return info


def submit(
    suite: dict[str, Any], planned: list[Stage], stages: list[Stage], force: bool, out: TextIO | None = None
) -> int:
    """Submit the selected stages that need a run, each as a job, then the report job; print the table."""
    import submitit

    if shutil.which("sbatch") is None:
        raise ConfigError(
            "--launcher slurm: no `sbatch` on this machine; run the command on a Slurm login node "
            "(or drop --launcher slurm to run the suite here)"
        )
    out = out or __import__("sys").stdout
    root = Path(suite["work_dir"])
    root.mkdir(parents=True, exist_ok=True)
    jobs = read_jobs(root)
    known = jobs.setdefault("stages", {})
    info = settle(suite, planned)
    by_name = {s.name: s for s in planned}
    submitted: dict[str, str] = {}
    rows = []
    for s in stages:
        entry = info[s.name]
        if entry["status"] in ("pending", "running") and not force:
            rows.append((s.name, entry["job_id"], f"already {entry['status']}", ""))
            continue
        if entry["status"] in ("pending", "running"):  # --force: replace the queued job
            subprocess.run(["scancel", entry["job_id"]], check=False)
        cfg = s.build_cfg("slurm")
        needs_new = {n for n in s.needs if n in submitted}
        action, why = stage_action(s, recipe(s, cfg, root), force, needs_new)
        if action == "cached":
            rows.append((s.name, known.get(s.name, {}).get("job_id", "-"), "cached", ""))
            continue
        deps, blocked = [], []
        for n in s.needs:
            if n in submitted:
                deps.append(submitted[n])
            elif info[n]["status"] in ("pending", "running"):
                deps.append(info[n]["job_id"])
            elif not by_name[n].done_path.is_file():
                blocked.append(n)
        if blocked:
            write_stage(s, status="blocked", error=f"needs {', '.join(blocked)} (not done, not queued)")
            rows.append((s.name, "-", f"blocked: needs {', '.join(blocked)}", ""))
            continue
        if action == "redo":
            s.clear()
        res = stage_resources(suite, s.name, s.protocol, s.backbone, cfg)
        job = _executor(submitit, root, suite, res, f"{s.name}", deps).submit(
            StageJob(s, str(root), int(suite["slurm"]["retries"]), res["cpus_per_task"], res["processes"])
        )
        submitted[s.name] = job.job_id
        known[s.name] = dict(
            job_id=job.job_id, submitted_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), resources=res, after=deps
        )
        write_stage(s, status="pending", job_id=job.job_id, error=None)
        rows.append((s.name, job.job_id, "submitted" + (f" (redo: {why})" if why else ""), _shown(res, deps)))
    if submitted or not (root / "report" / "report.md").is_file():
        res = stage_resources(suite, "report", "report", None, None)
        live = [
            info[s.name]["job_id"]
            for s in planned
            if info[s.name]["status"] in ("pending", "running") and s.name not in submitted
        ]
        report = _executor(submitit, root, suite, res, "report", list(submitted.values()) + live, ok=False)
        job = report.submit(ReportJob(suite, planned))
        known["report"] = dict(job_id=job.job_id, submitted_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        rows.append(("report", job.job_id, "submitted", "after every stage job"))
    atomic_write_json(root / JOBS_FILE, jobs)
    record.write(suite, settle(suite, planned), "slurm", executor="slurm")
    _table(rows, out)
    print(f"{len(submitted)} stage job(s) submitted; follow them with `maebench suite --status {root}`", file=out)
    return 0


def _executor(
    submitit: Any, root: Path, suite: dict[str, Any], res: dict[str, Any], name: str, deps: list[str], ok: bool = True
) -> Any:
    executor = submitit.AutoExecutor(
        folder=str(root / "slurm" / "%j"), cluster="slurm", slurm_max_num_timeout=int(suite["slurm"]["requeues"])
    )
    extra: dict[str, Any] = {"kill-on-invalid-dep": "yes"} if deps and ok else {}
    params: dict[str, Any] = dict(
        name=f"maebench:{Path(suite['work_dir']).name}:{name}",
        nodes=res["nodes"],
        tasks_per_node=res["tasks_per_node"],
        cpus_per_task=res["cpus_per_task"],
        timeout_min=minutes(res["time"]),
        slurm_additional_parameters=extra,
    )
    if deps:
        params["slurm_dependency"] = ("afterok:" if ok else "afterany:") + ":".join(deps)
    if res["gpus_per_node"]:
        params["gpus_per_node"] = res["gpus_per_node"]
    if res.get("mem"):
        params["slurm_mem"] = res["mem"]
    for key in ("partition", "account", "qos", "constraint"):
        if res.get(key):
            params[f"slurm_{key}"] = res[key]
    executor.update_parameters(**params)
    return executor


def _shown(res: dict[str, Any], deps: list[str]) -> str:
    where = f"{res['nodes']}x{res['gpus_per_node']} GPU" if res["gpus_per_node"] else f"{res['processes']} task"
    acc = f", accum {res['accumulation']}" if res.get("accumulation") and res["accumulation"] > 1 else ""
    after = f", after {','.join(deps)}" if deps else ""
    return f"{where}, {res['cpus_per_task']} cpu/task, {res['time']}{acc}{after}"


def _table(rows: list[tuple[str, str, str, str]], out: TextIO) -> None:
    width = max([len(r[0]) for r in rows] + [5])
    print(f"{'stage':<{width}}  {'job':>8}  {'action':<24}  resources", file=out)
    for name, job, action, res in rows:
        print(f"{name:<{width}}  {job:>8}  {action:<24}  {res}", file=out)
