"""Runs the stage plan, `jobs` stages at a time (tools/suite/workers.py), and keeps the suite's own record.

- A stage whose `metrics.json` exists is skipped (the suite resumes stage by stage); `force` redoes it.
  So is it when its command line (config, overrides, flags, data) or the seed changed since it finished
  (`suite_recipe.json` in its folder), or when a stage it needs ran again: cached numbers always answer
  the config as it is now.
  An interrupted stage resumes from its newest complete checkpoint (`--resume auto`).
- A stage runs its subcommand's `main` in-process (the suite's process, or a worker's) with stdout/stderr
  (mmengine's console logger, warnings, tracebacks) sent to `<stage>/stage.log`; child progress bars are off.
  A stage starts once the selected stages it needs have finished, in plan order otherwise. The console
  shows one line per finished stage (tools/suite/progress.py).
- A failing stage is recorded with its error and the others still run; stages that need it are marked
  blocked. A subcommand that this install does not have is "not available", never silently dropped.
- The suite's record is `<work_dir>/metrics.json` (task "suite"): per-stage status, error, duration and
  what the report needs to label rows (backbone, protocol, architecture, published anchor). Durations
  stored there are the time estimates of the next run.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import resource
import shutil
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any, TextIO

from mae_backbone.fileio import atomic_write_json
from mae_backbone.runtime.records import METRICS_FILE, write_metrics

from .progress import Progress
from .stages import Stage
from .workers import make_executor

OK = ("done", "cached")


def _release_loggers(stream: TextIO) -> None:
    """Detach mmengine logger handlers that write to a stage's (now closed) log file."""
    from mmengine.logging import MMLogger

    for logger in list(MMLogger._instance_dict.values()):
        for handler in list(logger.handlers):
            if getattr(handler, "stream", None) is stream:
                logger.removeHandler(handler)


def load_command(name: str) -> tuple[Any, str | None]:
    """The subcommand's module, or None and why it is not available in this install."""
    from tools.cli import COMMANDS

    if name not in COMMANDS:
        return None, f"this install has no `maebench {name}` (its package has not landed)"
    module_name = COMMANDS[name][0]
    try:
        return importlib.import_module(module_name), None
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):
            return None, f"`maebench {name}` is registered but {module_name} is missing"
        raise


def run_stage(stage: Stage, seed: int | None, launcher: str) -> None:
    """Run one stage's subcommand in-process, its console output in `<work_dir>/stage.log`."""
    module, why = load_command(stage.spec.command)
    if module is None:
        raise LookupError(why)
    parser = argparse.ArgumentParser(prog=f"maebench {stage.spec.command}")
    module.add_arguments(parser)
    argv = stage.argv(seed, launcher, {o for a in parser._actions for o in a.option_strings})
    stage.work_dir.mkdir(parents=True, exist_ok=True)
    log_path = stage.work_dir / "stage.log"
    saved_env = os.environ.get("MAEBENCH_NO_PROGRESS")
    os.environ["MAEBENCH_NO_PROGRESS"] = "1"
    with open(log_path, "a", buffering=1) as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} maebench {stage.spec.command} "
                  + " ".join(argv) + "\n")
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                try:
                    args = parser.parse_args(argv)
                except SystemExit as err:  # argparse already wrote why into the log
                    raise RuntimeError(f"`maebench {stage.spec.command}` rejected its arguments: "
                                       f"{' '.join(argv)} (see {log_path})") from err
                try:
                    code = int(module.main(args) or 0)
                except BaseException:
                    traceback.print_exc(file=log)
                    raise
            if code:
                raise RuntimeError(f"`maebench {stage.spec.command}` exited with status {code} (see {log_path})")
        finally:
            _release_loggers(log)
            if saved_env is None:
                os.environ.pop("MAEBENCH_NO_PROGRESS", None)
            else:
                os.environ["MAEBENCH_NO_PROGRESS"] = saved_env


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and its finished children (data-loader workers): the compute a
    stage used, which unlike wall time does not grow when other jobs share the machine."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def reset_peak_rss() -> None:
    """Start a new peak-RSS window for this process (Linux: writing 5 to /proc/self/clear_refs resets VmHWM)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not Linux, or not allowed: the peak then counts from the process start


def peak_rss_mib() -> dict[str, float | None]:
    """Peak resident memory of this process since `reset_peak_rss` (VmHWM) and of its largest finished child
    (data-loader workers, since the process start), in MiB."""
    own = None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                own = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        own = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"process": own, "largest_child": round(kids / 1024, 1) if kids else None}


def _rank() -> int:
    return int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", 0)))


def previous_record(work_dir: Path) -> dict[str, Any]:
    path = work_dir / METRICS_FILE
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (json.JSONDecodeError, OSError):
        return {}  # an unreadable old record only costs the time estimates


def measured_run(stage: Stage, seed: int | None, launcher: str) -> dict[str, Any]:
    """Run one stage in this process (the suite's or a worker) and measure it: wall and CPU seconds, peak RSS."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    reset_peak_rss()
    run_stage(stage, seed, launcher)
    if _rank() == 0 and not stage.done_path.is_file():
        raise RuntimeError(f"finished without writing {stage.done_path}")
    return dict(seconds=round(time.perf_counter() - t0, 1), cpu_seconds=round(cpu_seconds() - c0, 1),
                peak_rss_mib=peak_rss_mib())


RECIPE_FILE = "suite_recipe.json"  # what a finished stage was run with: a cached stage must still match it


def _recipe(stage: Stage, seed: int | None, root: Path) -> dict[str, Any]:
    # paths inside the suite's folder are kept relative to it: a copied or moved suite stays cached
    inside = str(root) + os.sep
    argv = [a.replace(inside, "{work_dir}" + os.sep) for a in stage.argv(None, "none", accepts=set())]
    return dict(argv=argv, seed=seed)


def stale_reason(stage: Stage, seed: int | None, root: Path, rerun: set[str]) -> str | None:
    """Why a finished stage's results no longer answer this config (None: they do, or it has not finished).
    `rerun`: the stages (re)run in this invocation, whose dependents are stale."""
    if not stage.done_path.is_file():
        return None
    redone = [n for n in stage.needs if n in rerun]
    if redone:
        return f"needs the new {', '.join(redone)}"
    path = stage.work_dir / RECIPE_FILE
    try:
        recorded = json.loads(path.read_text()) if path.is_file() else None
    except json.JSONDecodeError:
        recorded = {}
    if recorded is not None and recorded != _recipe(stage, seed, root):
        return "its config, overrides or seed changed since it ran"
    return None  # no record (a suite from before the check): trusted as finished


def stage_action(stage: Stage, seed: int | None, root: Path, force: bool, rerun: set[str]) -> tuple[str, str | None]:
    """What a run does with a stage: ("cached", None), ("run", None) or ("redo", why). Decided before anything is
    removed, so that every rank of a distributed suite decides alike (and `--list` says it beforehand)."""
    why = "--force" if force and stage.work_dir.exists() else stale_reason(stage, seed, root, rerun)
    if why:
        return "redo", why
    return ("cached" if stage.done_path.is_file() else "run"), None


def run_suite(suite: dict[str, Any], stages: list[Stage], *, planned: list[Stage] | None = None, force: bool = False,
              launcher: str = "none", jobs: int = 1, out: TextIO | None = None) -> int:
    """Run `stages` (a selection of the full plan `planned`), `jobs` at a time, then the report.
    Returns the exit status. A stage starts once the selected stages it needs have finished."""
    import torch

    out = out or sys.stdout
    root = Path(suite["work_dir"])
    planned = planned or stages
    old = previous_record(root).get("stages", {})
    backbones = suite["backbones"]
    pretrained_arch = next((b["arch"] for b in backbones.values() if b["source"] == "pretrain"), None)
    info: dict[str, dict[str, Any]] = {}
    for s in planned:  # what the report needs to label a stage's numbers, kept for unselected stages too
        info[s.name] = dict(old.get(s.name, {}), protocol=s.protocol, task=s.spec.task, command=s.spec.command,
                            backbone=s.backbone, work_dir=str(s.work_dir.relative_to(root)), anchor=s.anchor,
                            arch=backbones[s.backbone]["arch"] if s.backbone else pretrained_arch, needs=s.needs)
        info[s.name].setdefault("status", "not run")
    # a stage's last measured duration (kept while it is cached) or its weight
    estimates = {s.name: float(old.get(s.name, {}).get("seconds") or s.spec.weight) for s in stages}
    by_name = {s.name: s for s in planned}
    demo = suite.get("demo")
    names = (["demo-data"] if demo else []) + [s.name for s in stages] + ["report"]
    estimates.update({"demo-data": 20.0, "report": 10.0})
    threads = torch.get_num_threads()
    jobs = min(jobs, max(len(stages), 1))
    progress = Progress(len(names), estimates, out, enabled=_rank() == 0, jobs=jobs)
    progress.line(f"maebench suite: {len(names)} stages -> {root}  (config {suite['config_path']}; "
                  f"log of each stage in <stage>/stage.log"
                  + (f"; {jobs} at a time, {max(1, threads // jobs)} thread(s) each)" if jobs > 1 else ")"))
    t_suite, c_suite = time.perf_counter(), cpu_seconds()
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")

    def save() -> None:
        if _rank() != 0:
            return
        counts = {k: sum(1 for v in info.values() if v["status"] == k)
                  for k in ("done", "cached", "failed", "blocked", "not available", "not run")}
        write_metrics(root, {"stages": counts, "seconds": round(time.perf_counter() - t_suite, 1),
                             "cpu_seconds": round(cpu_seconds() - c_suite, 1),
                             "load_average": [round(x, 2) for x in os.getloadavg()]},
                      protocol=dict(config=suite["config_path"], data=suite["data"], demo=demo,
                                    launcher=launcher, jobs=jobs), task="suite", seed=suite.get("seed"),
                      extra=dict(stages=info, started_at=started_at, backbones={
                          k: {f: v.get(f) for f in ("source", "arch", "img_size", "checkpoint", "overrides")}
                          for k, v in backbones.items()}))

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
            if _rank() == 0:
                atomic_write_json(stage.work_dir / RECIPE_FILE, _recipe(stage, suite.get("seed"), root))
        elif status in ("failed", "blocked"):
            failed = True
            rec["seconds"] = None
            if status == "failed":
                rec["log"] = str(stage.work_dir / "stage.log")
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
            action, why = stage_action(stage, suite.get("seed"), root, force, ran_now)
            if action == "cached":
                finish(stage, "cached", t0)
                continue
            if action == "redo":
                if not force:
                    progress.line(f"{stage.name}: {why}: redoing it")
                if _rank() == 0:
                    shutil.rmtree(stage.work_dir)  # redo from nothing (the dir is the suite's own)
            missing = [n for n in stage.needs if not by_name[n].done_path.is_file()]
            if missing:
                why = ", ".join(f"{n} ({info.get(n, {}).get('status', 'not selected')})" for n in missing)
                finish(stage, "blocked", t0, f"needs {why}")
                continue
            module, why = load_command(stage.spec.command)
            if module is None:
                finish(stage, "not available", t0, why, seconds=None)
                continue
            launching = stage  # jobs=1 runs it inside submit: an interrupt there must still name it
            running[executor.submit(measured_run, stage, suite.get("seed"), launcher)] = (stage, t0)
            launching = None
    except KeyboardInterrupt:
        for stage in [s for s, _ in running.values()] + ([launching] if launching else []):
            info[stage.name].update(status="failed", error="interrupted")
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
    unavailable = [n for n, v in info.items() if v["status"] == "not available"]
    if unavailable:
        progress.line(f"not available in this install: {', '.join(unavailable)}")
    bad = [n for n, v in info.items() if v["status"] in ("failed", "blocked")]
    if bad:
        progress.line(f"failed: {', '.join(bad)} (each error is in the report and in <stage>/stage.log)")
    return 1 if failed else 0


def _demo_world(demo: dict[str, Any]) -> dict[str, Any]:
    """Generate the demo world unless it is complete (rank 0; other ranks wait for its stamp)."""
    from tools.demo_world import STAMP, generate_cached

    args = (demo["root"], demo.get("size", "small"), demo.get("seed", 0), demo.get("image_size", 128))
    if _rank() == 0:
        return generate_cached(*args)
    stamp = Path(demo["root"]) / STAMP
    for _ in range(3600):
        if stamp.is_file():
            break
        time.sleep(1)
    return generate_cached(*args)
