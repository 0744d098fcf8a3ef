"""The local executor: runs the stage graph here, `jobs` stages at a time (tools/suite/workers.py).

- A stage whose result is still valid is skipped (cached); one whose resolved config or inputs changed since it
  finished, or one that needs a stage run again in this invocation, is redone from nothing, and the console says
  why (tools/suite/cache.py). `force` redoes the selected stages. An interrupted stage resumes from its newest
  complete checkpoint.
- A stage runs its task in-process (the suite's process, or a worker's) through tools/suite/execute.py. It starts
  once the selected stages it needs have finished, in plan order otherwise. The console shows one line per
  finished stage (tools/suite/progress.py).
- A failing stage is recorded with its error and the others still run; stages that need it are marked blocked.
- The suite's record is `<work_dir>/metrics.json` (tools/suite/record.py). Durations stored there are the time
  estimates of the next run.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any, TextIO

from . import record
from .cache import recipe, stage_action
from .execute import _rank, cpu_seconds, run_stage, write_stage
from .progress import Progress
from .stages import Stage
from .workers import make_executor

OK = ("done", "cached")


def current_recipe(stage: Stage, root: Path) -> dict[str, Any]:
    return recipe(stage, stage.build_cfg(), root)


def run_suite(
    suite: dict[str, Any],
    stages: list[Stage],
    *,
    planned: list[Stage] | None = None,
    force: bool = False,
    launcher: str = "none",
    jobs: int = 1,
    out: TextIO | None = None,
) -> int:
    """Run `stages` (a selection of the full plan `planned`), `jobs` at a time, then the report.
    Returns the exit status. A stage starts once the selected stages it needs have finished."""
    import torch

    out = out or sys.stdout
    root = Path(suite["work_dir"])
    planned = planned or stages
    old = record.previous(root).get("stages", {})
    info = record.from_stage_records(suite, planned)  # kept for unselected stages too: the report labels them
    for _name, entry in info.items():
        if entry["status"] == "running":  # a run that ended without saying so (killed): not running now
            entry["status"] = "failed"
    # a stage's last measured duration (kept while it is cached) or its weight
    estimates = {s.name: float(old.get(s.name, {}).get("seconds") or s.spec.weight) for s in stages}
    by_name = {s.name: s for s in planned}
    demo = suite.get("demo")
    names = (["demo-data"] if demo else []) + [s.name for s in stages] + ["report"]
    estimates.update({"demo-data": 20.0, "report": 10.0})
    threads = torch.get_num_threads()
    jobs = min(jobs, max(len(stages), 1))
    progress = Progress(len(names), estimates, out, enabled=_rank() == 0, jobs=jobs)
    progress.line(
        f"maebench suite: {len(names)} stages -> {root}  (config {suite['config_path']}; "
        f"log of each stage in <stage>/stage.log"
        + (f"; {jobs} at a time, {max(1, threads // jobs)} thread(s) each)" if jobs > 1 else ")")
    )
    t_suite, c_suite = time.perf_counter(), cpu_seconds()
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")

    def save() -> None:
        record.write(
            suite,
            info,
            launcher,
            started_at=started_at,
            executor="local",
            metrics=dict(
                seconds=round(time.perf_counter() - t_suite, 1),
                cpu_seconds=round(cpu_seconds() - c_suite, 1),
                load_average=[round(x, 2) for x in os.getloadavg()],
            ),
            protocol=dict(jobs=jobs),
        )

    if demo:
        progress.start("demo-data", names[1:])
        t0 = time.perf_counter()
        _demo_world(demo)
        progress.end("demo-data", "done", time.perf_counter() - t0)

    queue = list(stages)
    selected = {s.name for s in stages}
    finished: set[str] = set()
    ran_now: set[str] = set()  # stages run (not cached) in this invocation: what needs them is stale
    running: dict[Future, tuple[Stage, float]] = {}
    failed = False

    def ready() -> Stage | None:
        """The first queued stage whose selected prerequisites have all finished (plan order)."""
        for stage in queue:
            if all(n not in selected or n in finished for n in stage.needs):
                return stage
        return queue[0] if queue and not running else None

    def finish(stage: Stage, status: str, t0: float, error: str | None = None, **measured: Any) -> None:
        nonlocal failed
        rec = info[stage.name]
        rec.update(status=status, error=error, **measured)
        if status == "done":
            rec.pop("log", None)
            ran_now.add(stage.name)
        elif status in ("failed", "blocked"):
            failed = True
            rec["seconds"] = None
            if status == "failed":
                rec["log"] = str(stage.work_dir / "stage.log")
            else:
                write_stage(stage, status="blocked", error=error)
        rec["started_s"], rec["ended_s"] = round(t0 - t_suite, 1), round(time.perf_counter() - t_suite, 1)
        finished.add(stage.name)
        progress.end(stage.name, status, time.perf_counter() - t0, "" if status in OK else (error or ""))
        save()

    executor = make_executor(jobs, threads)
    launching: Stage | None = None
    try:
        while queue or running:
            stage = ready() if len(running) < jobs else None
            if stage is None:  # every slot is busy, or what is queued waits for a running stage
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    stage, t0 = running.pop(future)
                    try:
                        finish(stage, "done", t0, **future.result())
                    except (Exception, SystemExit) as err:  # recorded, and the other stages still run
                        finish(stage, "failed", t0, f"{type(err).__name__}: {err}".strip())
                continue
            queue.remove(stage)
            progress.start(stage.name, [s.name for s in queue] + ["report"])
            t0 = time.perf_counter()
            missing = [
                n
                for n in stage.needs
                if not by_name[n].done_path.is_file() or info[n]["status"] in ("failed", "blocked")
            ]
            if missing:
                why = ", ".join(f"{n} ({info.get(n, {}).get('status', 'not selected')})" for n in missing)
                finish(stage, "blocked", t0, f"needs {why}")
                continue
            try:
                action, why = stage_action(stage, current_recipe(stage, root), force, ran_now)
            except Exception as err:  # its config does not build: recorded like a failed run, traceback in its log
                stage.work_dir.mkdir(parents=True, exist_ok=True)
                with open(stage.work_dir / "stage.log", "a") as log:
                    log.write(f"\n=== {stage.command_line()}\n{traceback.format_exc()}")
                write_stage(stage, status="failed", error=f"{type(err).__name__}: {err}".strip())
                finish(stage, "failed", t0, f"{type(err).__name__}: {err}".strip())
                continue
            if action == "cached":
                finish(stage, "cached", t0, **{k: info[stage.name].get(k) for k in ("seconds",)})
                continue
            if action == "redo":
                if not force:
                    progress.line(f"{stage.name}: {why}: redoing it")
                if _rank() == 0:
                    stage.clear()  # redo from nothing (the dir is the suite's own; sweep points keep theirs)
            launching = stage  # jobs=1 runs it inside submit: an interrupt there must still name it
            running[executor.submit(run_stage, stage, root, launcher)] = (stage, t0)
            launching = None
    except KeyboardInterrupt:
        for stage in [s for s, _ in running.values()] + ([launching] if launching else []):
            info[stage.name].update(status="failed", error="interrupted")
            write_stage(stage, status="failed", error="interrupted")
        executor.shutdown(wait=True, cancel_futures=True)
        save()
        raise
    executor.shutdown()

    progress.start("report", [])
    t0 = time.perf_counter()
    save()
    note, status = "", "done"
    if _rank() == 0:
        try:
            from tools.report import build_report

            written = build_report([root], root / "report", **suite.get("report", {}))
            note = f"{written['markdown']}"
        except Exception as err:
            status, note, failed = "failed", f"{type(err).__name__}: {err}", True
    progress.end("report", status, time.perf_counter() - t0, note)
    bad = [n for n, v in info.items() if v["status"] in ("failed", "blocked")]
    if bad:
        progress.line(f"failed: {', '.join(bad)} (each error is in the report and in <stage>/stage.log)")
    return 1 if failed else 0


def _demo_world(demo: dict[str, Any]) -> dict[str, Any]:
    """Generate the demo world unless it is complete (rank 0; other ranks wait for its stamp)."""
    from tools.demo_world import STAMP, generate_cached

    args = (demo["root"], demo.get("seed", 0), demo.get("size", "small"), demo.get("image_size", 128))
    if _rank() == 0:
        return generate_cached(*args)
    stamp = Path(demo["root"]) / STAMP
    for _ in range(3600):
        if stamp.is_file():
            break
        time.sleep(1)
    return generate_cached(*args)
