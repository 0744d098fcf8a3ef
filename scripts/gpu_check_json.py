"""The JSON side of scripts/gpu_check.sh: machine facts, per-step records, metrics.json checks, the summary.

Every result lands in one of a few small files under the output folder (at most 8 in all):
  install.json      machine, versions, wheel install, mmcv CUDA build, doctor
  tests.json        pytest tests/gpu, per test (with the numbers the tests record)
  protocols.json    each protocol's command, exit status, seconds and the check of its metrics.json
  pretrain_speed_vit_b.json, pretrain_speed_vit_l.json   benchmarks/pretrain_speed.py (written by it)
  summary.json      one line per step: passed / failed / skipped
Subcommands (python scripts/gpu_check_json.py CMD ...):
  machine FILE                          facts about this machine into FILE["machine"]
  put FILE KEY JSON                     FILE[KEY] = JSON (a string when it is not valid JSON)
  protocol FILE NAME WORK_DIR LOG RC SECONDS [REGEX]   check NAME's metrics.json (and 'a && b' in its log)
  junit FILE XML                        pytest's junit XML -> FILE
  doctor FILE LOG RC [cuda]             the doctor's output -> FILE["doctor"] (cuda: its CUDA check must pass)
  summary OUT_DIR                       summary.json from the files above; exit 1 when a step failed
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def put(path: Path, key: str, value: Any) -> None:
    record = load(path)
    record[key] = value
    path.write_text(json.dumps(record, indent=1) + "\n")


def tail(log: Path, lines: int = 15) -> list[str]:
    return log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else []


def machine() -> dict[str, Any]:
    import torch

    facts: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cpus": os.cpu_count(),
        "gpu": None,
        "nvcc": None,
    }
    if torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(0)
        facts["capability"] = "{}.{}".format(*torch.cuda.get_device_capability(0))
        facts["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    nvcc = shutil.which("nvcc")
    if nvcc:
        found = re.search(r"release (\S+),", subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout)
        facts["nvcc"] = found.group(1) if found else nvcc
    try:
        import numpy

        facts["numpy"] = numpy.__version__
    except ImportError:
        pass
    return facts


def finite_numbers(value: Any) -> list[float]:
    """Every number inside a metrics dict (nested), to check that none is NaN or infinite."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in finite_numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in finite_numbers(v)]
    return []


def check_protocol(name: str, work_dir: Path, log: Path, rc: int, seconds: float, greps: list[str]) -> dict:
    """Pass = exit status 0, a metrics.json naming the task with finite numbers, and each GREP found in the log."""
    task = name.split("_")[0]  # detect_vitdet -> detect
    row: dict[str, Any] = {"exit_status": rc, "seconds": round(seconds, 1), "work_dir": str(work_dir)}
    problems = [] if rc == 0 else [f"exit status {rc}"]
    path = work_dir / "metrics.json"
    if path.exists():
        record = json.loads(path.read_text())
        numbers = finite_numbers(record.get("metrics"))
        row.update(
            task=record.get("task"),
            world_size=record.get("world_size"),
            metrics=record.get("metrics"),
            precision=(record.get("protocol") or {}).get("precision"),
        )
        if record.get("task") != task:
            problems.append(f"metrics.json names task {record.get('task')!r}, expected {task!r}")
        if not numbers:
            problems.append("metrics.json holds no numbers")
        elif not all(math.isfinite(x) for x in numbers):
            problems.append("metrics.json holds a NaN or infinite number")
    else:
        problems.append(f"no {path}")
    text = log.read_text(errors="replace") if log.exists() else ""
    for pattern in greps:
        hit = re.search(pattern, text)
        row.setdefault("log_lines", {})[pattern] = hit and text[hit.start() : text.find("\n", hit.start())][:200]
        if not hit:
            problems.append(f"log lacks {pattern!r}")
    row["passed"], row["problems"] = not problems, problems
    if problems:
        row["log_tail"] = tail(log)
    return row


def junit(xml: Path) -> dict[str, Any]:
    if not xml.exists():
        return {"passed": False, "problems": [f"pytest wrote no {xml.name}"]}
    tests = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = child.tag
                tests.setdefault("_messages", {})[case.get("name")] = (child.get("message") or "")[:400]
            elif child.tag == "skipped":
                outcome = "skipped"
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        tests[case.get("name")] = {"outcome": outcome, "seconds": float(case.get("time") or 0), **props}
    messages = tests.pop("_messages", {})
    outcomes = [t["outcome"] for t in tests.values()]
    return {
        "tests": tests,
        "messages": messages,
        "passed": not any(o in ("failure", "error") for o in outcomes),
        "counts": {o: outcomes.count(o) for o in sorted(set(outcomes))},
    }


# Doctor findings that the GPU image itself causes, not maebench: the carried wheels shadow the image's own
# copies on purpose (timm, setuptools: PYTHONPATH first, so "duplicate installs"), and imagecorruptions 1.1.2 calls
# np.float_, which the image's numpy 2 no longer has (setup.sh installs numpy<2). Listed in the record, not a failure.
IMAGE_FINDINGS = ("no duplicate installs", "imagecorruptions")


def doctor(log: Path, rc: int, need_cuda: bool) -> dict[str, Any]:
    """The doctor's record; passed: no FAIL but IMAGE_FINDINGS and, on a GPU run, mmcv's CUDA check ok."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    fails = [line.split("]", 1)[1].split(":", 1)[0].strip() for line in lines if line.strip().startswith("[FAIL]")]
    ours = [f for f in fails if f not in IMAGE_FINDINGS]
    cuda = next((line.strip() for line in lines if "mmcv ops on CUDA" in line), None)
    passed = bool(lines) and not ours and (rc == 0 or bool(fails)) and (not need_cuda or "[ok]" in (cuda or ""))
    return {
        "passed": passed,
        "exit_status": rc,
        "failed": ours,
        "image_findings": [f for f in fails if f in IMAGE_FINDINGS],
        "mmcv_cuda": cuda,
        "lines": lines[-40:],
    }


def summary(out: Path) -> int:
    steps: dict[str, str] = {}
    install = load(out / "install.json")
    for key in ("wheels", "mmcv_build", "doctor"):
        if key in install:
            steps[key] = (
                "passed" if install[key].get("passed") else "skipped" if install[key].get("skipped") else "failed"
            )
    tests = load(out / "tests.json")
    if tests:
        counts = tests.get("counts", {})
        steps["tests/gpu"] = (
            "failed" if not tests.get("passed") else "skipped" if counts and set(counts) == {"skipped"} else "passed"
        ) + f" {counts}"
    for name, row in load(out / "protocols.json").items():
        steps[f"protocol {name}"] = "passed" if row.get("passed") else "failed: " + "; ".join(row.get("problems", []))
    benches = sorted(out.glob("pretrain_speed*.json"))
    for bench in benches:
        rows = load(bench).get("results", [])
        steps[bench.stem] = "passed" if rows else "failed: no results"
    if not benches:
        steps["pretrain_speed"] = "failed: no pretrain_speed*.json"
    failed = [k for k, v in steps.items() if v.startswith("failed")]
    record = {"passed": not failed, "failed": failed, "steps": steps, "machine": install.get("machine")}
    (out / "summary.json").write_text(json.dumps(record, indent=1) + "\n")
    for k, v in steps.items():
        print(f"  {k}: {v}")
    for bench in benches:
        for row in load(bench).get("results", []):
            print(
                f"  {row['arch']} b{row['batch']}: ours {row['ours_img_s']:.0f} img/s, compiled "
                f"{row.get('ours_compiled_img_s') or 0:.0f}, reference ({row['reference_precision']}) "
                f"{row['reference_img_s']:.0f}; MFU ours {row.get('ours_mfu')}, compiled {row.get('ours_compiled_mfu')}"
            )
    print("gpu_check: " + ("every step passed" if not failed else f"{len(failed)} step(s) failed: {', '.join(failed)}"))
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    cmd, *rest = argv
    if cmd == "machine":
        put(Path(rest[0]), "machine", machine())
    elif cmd == "put":
        try:
            value = json.loads(rest[2])
        except json.JSONDecodeError:
            value = rest[2]
        put(Path(rest[0]), rest[1], value)
    elif cmd == "protocol":
        file, name, work_dir, log, rc, seconds, *greps = rest
        greps = [g for arg in greps for g in arg.split(" && ") if g]  # "re1 && re2": both must be in the log
        row = check_protocol(name, Path(work_dir), Path(log), int(rc), float(seconds), greps)
        put(Path(file), name, row)
        print(f"   -> {name}: {'passed' if row['passed'] else 'FAILED: ' + '; '.join(row['problems'])}")
    elif cmd == "junit":
        Path(rest[0]).write_text(json.dumps(junit(Path(rest[1])), indent=1) + "\n")
    elif cmd == "doctor":
        put(Path(rest[0]), "doctor", doctor(Path(rest[1]), int(rest[2]), rest[3:] == ["cuda"]))
    elif cmd == "summary":
        return summary(Path(rest[0]))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
