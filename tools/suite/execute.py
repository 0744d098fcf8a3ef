"""Run one stage in this process, whichever executor placed it here (the suite's process, a local worker, or a
Slurm job): build its config through the task's `build_cfg`, run the task, measure it, and keep its record.

Its console output (mmengine's logger, warnings, tracebacks) goes to `<stage>/stage.log`; its record,
`<stage>/suite_stage.json`, says running / done / failed with the digest of what it ran (cache.py), times, the
measured cost and the error. Both executors read stages' states from these records only.
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

from mae_backbone.fileio import atomic_write_json
from mae_backbone.runtime.cost import cpu_seconds
from mae_backbone.runtime.cost import peak_rss_mib as process_peak_rss_mib

from .cache import STAGE_FILE, digest, read_stage, recipe
from .stages import Stage


def _rank() -> int:
    return int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", 0)))


def reset_peak_rss() -> None:
    """Start a new peak-RSS window for this process (Linux: writing 5 to /proc/self/clear_refs resets VmHWM)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not Linux, or not allowed: the peak then counts from the process start


def peak_rss_mib() -> dict[str, float | None]:
    """Peak resident memory of this process since `reset_peak_rss` and of its largest finished child
    (data-loader workers, since the process start), in MiB."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"process": process_peak_rss_mib(), "largest_child": round(kids / 1024, 1) if kids else None}


def write_stage(stage: Stage, **fields: Any) -> dict[str, Any]:
    """Update the stage's record (rank 0 only; atomic)."""
    rec = dict(read_stage(stage), **fields)
    if _rank() == 0:
        stage.work_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(stage.work_dir / STAGE_FILE, rec)
    return rec


def _release_loggers(stream: TextIO) -> None:
    """Detach mmengine logger handlers that write to a stage's (now closed) log file."""
    from mmengine.logging import MMLogger

    for logger in MMLogger._instance_dict.values():
        for handler in list(logger.handlers):
            if getattr(handler, "stream", None) is stream:
                logger.removeHandler(handler)


def run_stage(stage: Stage, root: Path, launcher: str = "none", job_id: str | None = None) -> dict[str, Any]:
    """Run the stage's task here, its console output in `<stage>/stage.log`; record and return what it cost.
    Raises what the task raised (after recording the stage as failed)."""
    cfg = stage.build_cfg(launcher)
    made = recipe(stage, cfg, root)  # taken now: the stages it needs have finished, their outputs are final
    t0, c0 = time.perf_counter(), cpu_seconds()
    reset_peak_rss()
    write_stage(
        stage,
        status="running",
        job_id=job_id,
        started_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        error=None,
        host=os.uname().nodename,
    )
    stage.work_dir.mkdir(parents=True, exist_ok=True)
    log_path = stage.work_dir / "stage.log"
    with open(log_path, "a", buffering=1) as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {stage.command_line()}\n")
        try:
            # stderr is the log file, not a terminal: the training progress bar stays off (runtime/engine.py)
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                try:
                    stage.execute(cfg)
                except BaseException:
                    traceback.print_exc(file=log)
                    raise
            if _rank() == 0 and not stage.done_path.is_file():
                raise RuntimeError(f"finished without writing {stage.done_path}")
        except BaseException as err:
            write_stage(
                stage,
                status="failed",
                error=f"{type(err).__name__}: {err}".strip(),
                log=str(log_path),
                ended_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            )
            raise
        finally:
            _release_loggers(log)
    measured = dict(
        seconds=round(time.perf_counter() - t0, 1),
        cpu_seconds=round(cpu_seconds() - c0, 1),
        peak_rss_mib=peak_rss_mib(),
    )
    write_stage(
        stage,
        status="done",
        digest=digest(made),
        recipe=made,
        error=None,
        ended_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **measured,
    )
    return measured
