"""A real single-node Slurm cluster for the suite's cluster tests (scripts/local_slurm.sh: Debian's slurmctld,
slurmd and munge on localhost, 2 CPUs, no GPUs), started once per test session and stopped after."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "local_slurm.sh"


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """SLURM_CONF of a running local cluster. Skipped (with the reason) only where Slurm cannot be installed at
    all; under CI (CI=true) it must run, so a broken install fails instead."""
    if os.geteuid() != 0 and shutil.which("slurmctld") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the Slurm tests: Slurm is not installed and this is not root")
        pytest.skip("no Slurm here and not root, so it cannot be installed (scripts/local_slurm.sh install)")
    state = tmp_path_factory.mktemp("slurm")
    # GNU nproc honours OMP_NUM_THREADS: under the usual OMP_NUM_THREADS=1 the node would get 1 CPU (jobs serial)
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT")}
    started = subprocess.run(["bash", str(SCRIPT), "start", str(state)], capture_output=True, text=True, env=env)
    if started.returncode:
        logs = "".join(p.read_text()[-2000:] for p in state.glob("*.log"))
        pytest.fail(f"the local Slurm cluster did not start:\n{started.stdout}{started.stderr}\n{logs}")
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(state / "slurm.conf")
    yield state
    subprocess.run(["scancel", "--user", str(os.geteuid())], capture_output=True)
    subprocess.run(["bash", str(SCRIPT), "stop", str(state)], capture_output=True)
    if old is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = old
