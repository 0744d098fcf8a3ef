"""The report's intervals on planted per-image outcomes: cells and paired Δ rows carry their 95% bootstrap
intervals and n.s. marks, roles come from the suite record (any labels, an optional `baseline`), several
seeds aggregate (mean, std, per-seed values in the CSV), and verdicts against a published spread."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from mae_backbone.runtime import metric_keys as keys
from tools.report import build_report
from tools.report.anchors import ANCHORS, SPREADS, B, verdict
from tools.report.tables import Options

FIXTURES = Path(__file__).parent / "fixtures"
N = 150  # images of the fixture's classification val set
OPTS = dict(bootstrap=400, coco_bootstrap=50, bootstrap_seed=0)


def _hits(k: int, flip: tuple[int, int] = (0, 0)) -> np.ndarray:
    """k hits among N images (the first k), then `flip` = (hits lost, hits gained) on the same images."""
    hit = np.zeros(N, dtype=np.uint8)
    hit[:k] = 1
    hit[k - flip[0] : k] = 0
    hit[k : k + flip[1]] = 1
    return hit


def _suite(
    root: Path,
    backbones: dict[str, str],
    runs: dict[tuple[str, int], np.ndarray],
    seeds=(0,),
    baseline: str | None = None,
) -> Path:
    """A suite record with one fine-tune stage per backbone and seed, each with its metrics.json and outcomes."""
    template = json.loads((FIXTURES / "suite" / "mae" / "finetune" / "metrics.json").read_text())
    stages = {}
    for label in backbones:
        for seed in seeds:
            tail = f"/s{seed}" if len(seeds) > 1 else ""
            work = root / f"{label}/finetune{tail}"
            work.mkdir(parents=True)
            hit = runs[label, seed]
            rec = copy.deepcopy(template)
            rec.update(seed=seed, metrics={keys.TOP1: 100.0 * hit.sum() / N})
            (work / "metrics.json").write_text(json.dumps(rec))
            keys.write_outcomes(
                work / keys.OUTCOMES_FILE, {keys.IMAGES: np.arange(N), keys.outcome(keys.TOP1, "hit"): hit}
            )
            stages[f"{label}/finetune{tail}"] = dict(
                backbone=label,
                protocol="finetune",
                task="finetune",
                seed=seed,
                status="done",
                work_dir=f"{label}/finetune{tail}",
                arch="vit_mini_patch16",
            )
    record = dict(
        task="suite",
        stages=stages,
        seeds=list(seeds),
        baseline=baseline,
        seed=seeds[0],
        protocol=dict(config="test", demo=dict(size="tiny")),
        metrics={},
        backbones={k: dict(source=v, arch="vit_mini_patch16") for k, v in backbones.items()},
    )
    (root / "metrics.json").write_text(json.dumps(record))
    return root


def _report(tmp_path: Path, suite: Path):
    written = build_report([suite], tmp_path / "report", visualize=False, **OPTS)
    md = written["markdown"].read_text()
    block = md.split("### Table 3-style", 1)[1].split("\n\n", 2)[1]
    rows = {r[0]: r for r in ([c.strip() for c in line.strip("|").split("|")] for line in block.splitlines()[2:])}
    return md, rows, list(csv.DictReader(io.StringIO(written["csv"].read_text())))


def test_cells_and_gains_carry_intervals_and_ns_marks_for_any_labels(tmp_path):
    runs = {("ours", 0): _hits(120), ("random", 0): _hits(90), ("same", 0): _hits(120, flip=(3, 2))}
    suite = _suite(tmp_path / "s", {"ours": "pretrain", "same": "checkpoint", "random": "scratch"}, runs)
    md, rows, table = _report(tmp_path, suite)
    ours = rows["ours"][2]
    assert ours.startswith("80.0 [") and ours.endswith("]") and "[p" in ours  # number, interval, footnote
    lo, hi = (float(x) for x in ours.split("[")[1].rstrip("] ").split(","))
    assert lo < 80.0 < hi
    # roles from the record, not the labels: both pre-trained rows get a Δ over the scratch one
    gain = rows["Δ ours − random"][2]
    assert gain.startswith("+20.0 [") and "n.s." not in gain
    g_lo, g_hi = (float(x) for x in gain.split("[")[1].rstrip("]").split(","))
    assert 0 < g_lo < 20.0 < g_hi
    assert rows["Δ same − random"][2].startswith("+19.3 [")
    assert "Δ random − ours" not in rows
    row = next(r for r in table if r["backbone"] == "ours")
    assert (row["role"], row["baseline"], row["gain_significant"], row["replicates"]) == (
        "pretrain",
        "random",
        "True",
        "400",
    )
    assert float(row["ci_low"]) == pytest.approx(lo, abs=0.05) and float(row["gain_ci_high"]) == pytest.approx(
        g_hi, abs=0.05
    )
    assert "95% bootstrap interval" in md and "400 replicates of 150 images" in md


def test_baseline_named_by_the_suite_and_a_gain_that_is_not_significant(tmp_path):
    runs = {("ours", 0): _hits(120), ("official", 0): _hits(120, flip=(3, 2)), ("random", 0): _hits(90)}
    suite = _suite(
        tmp_path / "s", {"ours": "pretrain", "official": "checkpoint", "random": "scratch"}, runs, baseline="official"
    )
    _, rows, table = _report(tmp_path, suite)
    assert [k for k in rows if k.startswith("Δ")] == ["Δ ours − official"]
    gain = rows["Δ ours − official"][2]
    assert gain.startswith("+0.7 [") and gain.endswith("n.s.")
    assert next(r for r in table if r["backbone"] == "ours")["gain_significant"] == "False"


def test_seeds_are_aggregated_mean_std_and_per_seed_values(tmp_path):
    runs = {
        ("ours", 0): _hits(120),
        ("ours", 1): _hits(123),
        ("ours", 2): _hits(117),
        ("random", 0): _hits(90),
        ("random", 1): _hits(96),
        ("random", 2): _hits(93),
    }
    suite = _suite(tmp_path / "s", {"ours": "pretrain", "random": "scratch"}, runs, seeds=(0, 1, 2))
    md, rows, table = _report(tmp_path, suite)
    std = float(np.std([80.0, 82.0, 78.0], ddof=1))
    assert rows["ours"][2].startswith(f"80.0 ±{std:.1f} [")
    assert rows["ours"][2].endswith("[p1,p2,p3]") or "[p" in rows["ours"][2]
    row = next(r for r in table if r["backbone"] == "ours")
    assert row["seeds"] == "0;1;2" and row["per_seed"] == "80.0000;82.0000;78.0000"
    assert float(row["std_over_seeds"]) == pytest.approx(std, abs=1e-4)
    assert rows["Δ ours − random"][2].startswith("+18.0 [")
    assert "seeds resampled, then images" in md
    # a seed whose stage failed: the mean is over the others, and the note says so
    rec = json.loads((suite / "metrics.json").read_text())
    rec["stages"]["ours/finetune/s2"].update(status="failed", error="RuntimeError: boom")
    (suite / "metrics.json").write_text(json.dumps(rec))
    (suite / "ours" / "finetune" / "s2" / "metrics.json").unlink()
    md = build_report([suite], tmp_path / "failed", visualize=False, **OPTS)["markdown"].read_text()
    assert "| ours | vit_mini_patch16 | 81.0 ±1.4 [" in md
    assert "ours, fine-tune: the mean is over 2 seed(s); ours/finetune/s2 failed" in md
    (suite / "ours" / "finetune" / "s2" / "metrics.json").write_text(
        json.dumps(
            {
                **json.loads((suite / "ours" / "finetune" / "s1" / "metrics.json").read_text()),
                "seed": 2,
                "metrics": {keys.TOP1: 78.0},
            }
        )
    )
    rec["stages"]["ours/finetune/s2"].update(status="done", error=None)
    (suite / "metrics.json").write_text(json.dumps(rec))
    # deterministic for a report seed
    again = build_report([suite], tmp_path / "again", visualize=False, **OPTS)["csv"].read_text()
    assert again == (tmp_path / "report" / "report.csv").read_text()


def test_verdict_against_the_published_spread():
    paper, spread = ANCHORS["in1k_finetune", B, "mae"], SPREADS["in1k_finetune", B]
    assert verdict(paper, spread, (83.0, 83.5)).word == "reproduced"
    assert verdict(paper, spread, (82.0, 83.4)).word == "below"
    assert verdict(paper, spread, (83.7, 84.0)).word == "above"
    lin = ANCHORS["in1k_linprobe", B, "mae"]
    v = verdict(lin, None, (67.0, 67.9))
    assert v.word == "below" and v.label() == "below (no published spread)"


def _standalone_vit_b(root: Path, top1_hits: int, planted_hits: int) -> Path:
    """The paper-scale standalone fixture run (ViT-B, real-data protocol) with its per-image outcomes."""
    work = root / "vit_b"
    work.mkdir(parents=True)
    rec = json.loads((FIXTURES / "vit_b_in1k_finetune" / "metrics.json").read_text())
    rec["metrics"] = {keys.TOP1: 100.0 * top1_hits / N}
    (work / "metrics.json").write_text(json.dumps(rec))
    keys.write_outcomes(
        work / keys.OUTCOMES_FILE, {keys.IMAGES: np.arange(N), keys.outcome(keys.TOP1, "hit"): _hits(planted_hits)}
    )
    return work


def test_paper_scale_verdict_and_a_stale_outcomes_file(tmp_path):
    written = build_report([_standalone_vit_b(tmp_path / "a", 124, 124)], tmp_path / "ra", visualize=False, **OPTS)
    row = next(r for r in csv.DictReader(io.StringIO(written["csv"].read_text())) if r["column"] == "fine-tune")
    assert (row["paper"], row["paper_spread"], row["verdict"]) == ("83.6", "83.46–83.66", "reproduced")
    assert float(row["ci_low"]) < 83.46 and float(row["ci_high"]) > 83.66  # 150 images: a wide interval
    assert "reproduced (published 83.46–83.66)" in written["markdown"].read_text()
    # outcomes that do not recompute the recorded number (another run's) give no interval, and say why
    written = build_report([_standalone_vit_b(tmp_path / "b", 124, 120)], tmp_path / "rb", visualize=False, **OPTS)
    md = written["markdown"].read_text()
    assert "outcomes give 80.000, metrics.json 82.667; no interval (rerun that stage)" in md
    assert "no interval (published 83.46–83.66)" in md


def test_zero_replicates_turn_intervals_off_and_negative_is_refused(tmp_path):
    from mae_backbone.errors import ConfigError

    suite = _suite(
        tmp_path / "s", {"ours": "pretrain", "random": "scratch"}, {("ours", 0): _hits(120), ("random", 0): _hits(90)}
    )
    written = build_report([suite], tmp_path / "r", visualize=False, bootstrap=0)
    md = written["markdown"].read_text()
    assert "| ours | vit_mini_patch16 | 80.0 [p1] |" in md and "| Δ ours − random |  | +20.0 |" in md
    with pytest.raises(ConfigError, match="replicates must be >= 0"):
        Options(replicates=-1)
