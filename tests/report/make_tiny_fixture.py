"""Regenerate tests/report/fixtures/tiny/ from a real tiny suite run (what the producers write, nothing else).

    maebench suite tools/configs/suite/tiny.py data.demo.root="'/tmp/demo_tiny'" --work-dir /tmp/tiny_suite
    python -m tests.report.make_tiny_fixture /tmp/tiny_suite /tmp/demo_tiny

Copies every metrics.json and outcomes.npz (no checkpoints, logs or figures), with the run's absolute
paths replaced by relative ones so the fixture names no machine.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from mae_backbone.runtime.metric_keys import OUTCOMES_FILE
from mae_backbone.runtime.records import METRICS_FILE

OUT = Path(__file__).parent / "fixtures" / "tiny"


def main(suite: str, demo_root: str) -> None:
    src = Path(suite).resolve()
    if OUT.exists():
        shutil.rmtree(OUT)
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if rel.parts[0] == "report" or path.name not in (METRICS_FILE, OUTCOMES_FILE):
            continue
        (OUT / rel).parent.mkdir(parents=True, exist_ok=True)
        if path.name == OUTCOMES_FILE:
            shutil.copyfile(path, OUT / rel)
        else:  # the demo world's root first: it may lie inside the suite's
            text = path.read_text().replace(str(Path(demo_root).resolve()), "demo_data").replace(str(src), ".")
            (OUT / rel).write_text(text)
    print(f"{sum(1 for _ in OUT.rglob('*.*'))} files -> {OUT}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
