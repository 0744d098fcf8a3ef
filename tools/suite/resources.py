"""What each stage's Slurm job asks for: processes (GPUs), nodes, CPUs per task, memory, time limit, and where.

Processes come from the stage's recipe: a recipe is defined by its global batch (optim.global_batch) and its
per-process batch (data.batch_size), so the job gets global / per-process processes -- the reference's own
layout, no gradient accumulation -- capped at `slurm.max_gpus` and rounded down to a count the global batch
still divides (whole nodes above one node). A suite config can set any of it per protocol and per backbone:

    slurm = dict(partition="gpu", account=None, qos=None, constraint=None, gpus_per_node=8, cpus_per_task=10,
                 mem=None, time="72:00:00", retries=2, requeues=100, max_gpus=64)   # the defaults of every job
    resources = dict(default=dict(...), pretrain=dict(time="200:00:00"), segment=dict(gpus=8), report=dict(...))
    backbones = dict(mae=dict(..., resources=dict(detect=dict(gpus=16))))

`retries`: a failing stage runs again in its job this often; `requeues`: how often a job preempted or at its time
limit requeues itself. `gpus_per_node=0` is a CPU cluster: each stage is one task with `cpus_per_task` CPUs
(`tasks` to ask for more).
A process count that the global batch does not divide is refused when the suite is loaded, not on the cluster.
"""

from __future__ import annotations

import math
from typing import Any

from mae_backbone.errors import ConfigError
from mae_backbone.runtime.config import refuse_unknown

SLURM_DEFAULTS = dict(
    partition=None,
    account=None,
    qos=None,
    constraint=None,
    gpus_per_node=8,
    cpus_per_task=10,
    mem=None,
    time="72:00:00",
    retries=2,
    requeues=100,
    max_gpus=64,
)
RESOURCE_KEYS = ("gpus", "tasks", "nodes", "cpus_per_task", "mem", "time", "partition", "account", "qos", "constraint")


def check_resources(suite: dict[str, Any], source: str) -> None:
    """Refuse unknown keys (typos) in `slurm` and `resources` now; fill the slurm defaults."""
    from .stages import PROTOCOLS

    slurm = dict(suite.get("slurm") or {})
    refuse_unknown(slurm, SLURM_DEFAULTS, "key", f"{source}: slurm")
    suite["slurm"] = {**SLURM_DEFAULTS, **slurm}
    groups = [("resources", suite.get("resources") or {})]
    groups += [(f"backbones.{k}.resources", b.get("resources") or {}) for k, b in suite["backbones"].items()]
    for where, table in groups:
        refuse_unknown(table, ["default", "pretrain", "report", *PROTOCOLS], "protocol", f"{source}: {where}")
        for proto, res in table.items():
            refuse_unknown(res, RESOURCE_KEYS, "resource", f"{source}: {where}.{proto}")
    suite["resources"] = dict(suite.get("resources") or {})


def minutes(text: str | int) -> int:
    """Slurm time limits: "D-HH:MM:SS", "HH:MM:SS", "MM" (or an int of minutes)."""
    if isinstance(text, int):
        return text
    days, _, rest = text.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    h, m, s = ([0] * (3 - len(parts)) + parts) if len(parts) > 1 else (0, parts[0], 0)
    return int(days or 0) * 1440 + h * 60 + m + math.ceil(s / 60)


def processes_for(global_batch: int, per_process: int, cap: int, per_node: int) -> int:
    """The most processes <= cap that hold the global batch without a remainder (whole nodes above one)."""
    for p in range(max(1, min(cap, global_batch // per_process)), 0, -1):
        if global_batch % (p * per_process) == 0 and (p <= per_node or p % per_node == 0):
            return p
    return 1


def stage_resources(
    suite: dict[str, Any], name: str, protocol: str, backbone: str | None, cfg: dict[str, Any] | None
) -> dict[str, Any]:
    """The job of one stage (the report job: protocol "report", cfg None)."""
    slurm, table = suite["slurm"], suite["resources"]
    own = (suite["backbones"][backbone].get("resources") or {}) if backbone else {}
    res = {k: v for k, v in slurm.items() if k in RESOURCE_KEYS}
    for layer in (table.get("default"), table.get(protocol), own.get(protocol)):
        res.update(layer or {})
    per_node = int(slurm["gpus_per_node"])
    batch = (cfg or {}).get("data", {}).get("batch_size")
    global_batch = ((cfg or {}).get("optim") or {}).get("global_batch")
    if per_node == 0:  # a CPU cluster: one process unless asked for more
        procs = int(res.get("tasks") or 1)
    elif res.get("gpus"):
        procs = int(res["gpus"])
    elif protocol == "report" or not (batch and global_batch):
        procs = 1  # no training batch (robustness, the report): one GPU
    else:
        procs = processes_for(int(global_batch), int(batch), int(slurm["max_gpus"]), per_node)
    if batch and global_batch and global_batch % (procs * batch):
        raise ConfigError(
            f"stage {name}: {procs} processes x data.batch_size {batch} do not divide its global batch "
            f"{global_batch}; set resources.{protocol}.gpus to a divisor of "
            f"{global_batch // batch} (or leave it out: derived from the recipe)"
        )
    nodes = int(res.get("nodes") or (math.ceil(procs / per_node) if per_node else 1))
    if procs % nodes:
        raise ConfigError(
            f"stage {name}: {procs} processes do not split over {nodes} nodes; set resources.{protocol}.nodes"
        )
    return dict(
        processes=procs,
        nodes=nodes,
        tasks_per_node=procs // nodes,
        gpus_per_node=procs // nodes if per_node else 0,
        cpus_per_task=int(res["cpus_per_task"]),
        mem=res.get("mem"),
        time=res.get("time") or slurm["time"],
        **{k: res.get(k) for k in ("partition", "account", "qos", "constraint")},
        global_batch=global_batch,
        batch_size=batch,
        accumulation=(global_batch // (procs * batch)) if batch and global_batch else None,
    )
