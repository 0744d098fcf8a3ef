"""`maebench report` on recorded metrics.json fixtures: tables, gains, non-comparable pairs, missing protocols,
failed stages, the paper column, CSV and figures."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from mae_backbone.errors import BadInputError
from tools.cli import main as cli
from tools.report import build_report, cost
from tools.report import protocol as proto
from tools.report.collect import collect
from tools.report.tables import build_tables

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    written = build_report([FIXTURES / "suite", FIXTURES / "vit_b_in1k_finetune"], out, visualize=False)
    return written, written["markdown"].read_text(), list(csv.DictReader(io.StringIO(written["csv"].read_text())))


def _table(md: str, title: str) -> list[list[str]]:
    """The table's rows without its cost columns (those are tested in test_tiny_report.py)."""
    block = md.split(f"### {title}", 1)[1].split("\n\n", 2)[1]
    lines = [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines()]
    keep = [i for i, h in enumerate(lines[0]) if not h.endswith(cost.HEADER)]
    return [[line[i] for i in keep] for line in lines[2:]]


def _row(rows: list[list[str]], label: str) -> list[str]:
    return next(r for r in rows if r[0] == label)


def test_classification_table_rows_gain_and_paper_column(report):
    _, md, _ = report
    rows = _table(md, "Table 3-style")
    assert _row(rows, "mae")[2].startswith("80.0 [p")
    assert _row(rows, "scratch")[2].startswith("60.0 [p")
    assert _row(rows, "Δ mae − scratch")[2] == "+20.0"
    # the paper-scale ViT-B run gets the published number beside it, with the difference
    vit_b = _row(rows, "mae-vit-b")
    assert vit_b[1] == "vit_base_patch16" and vit_b[3] == "83.6 [doc]" and vit_b[4] == "-0.4"
    # no per-image outcomes saved: no interval, so no verdict either (the published spread is still named)
    assert vit_b[5] == "no interval (published 83.46–83.66)"
    # a standalone run is not compared with another suite's scratch baseline
    assert not any(r[0].startswith("Δ mae-vit-b") for r in rows)


def test_non_comparable_pair_is_not_subtracted_and_says_why(report):
    _, md, rows = report
    assert _row(_table(md, "Table 3-style"), "Δ mae − scratch")[6] == "n/c"
    assert "linear probe: not comparable: different data (aaaa1111 vs bbbb2222)" in md
    probe = next(r for r in rows if r["column"] == "linear probe" and r["backbone"] == "mae")
    assert probe["comparable_to_baseline"] == "False" and probe["gain_vs_baseline"] == ""


def test_missing_protocol_is_flagged(report):
    _, md, rows = report
    assert _row(_table(md, "Table 5"), "Δ mae − scratch")[2] == "n/c"
    assert "mIoU: not comparable: first lacks protocol" in md
    assert "**missing: protocol**" in md
    seg = next(r for r in rows if r["table"] == "ade20k" and r["backbone"] == "mae")
    assert seg["missing_protocol"] == "protocol"


def test_failed_blocked_and_unavailable_stages_are_shown_not_dropped(report):
    _, md, _ = report
    assert _row(_table(md, "Table 4"), "scratch")[2] == "*failed*"
    assert _row(_table(md, "Table 13"), "scratch")[2] == "*blocked*"
    assert _row(_table(md, "Table 6"), "mae")[3] == "*not available*"
    assert "| scratch/detect | failed | RuntimeError: out of anchors" in md


def test_robustness_transfer_and_partial_tables(report):
    _, md, _ = report
    rob = _row(_table(md, "Table 13"), "mae")
    assert [c.split(" [")[0] for c in rob[2:6]] == ["40.0", "45.0", "35.0", "70.0"]
    assert _row(_table(md, "Table 6"), "Δ mae − scratch")[2] == "+15.0"
    head = md.split("### Fig. 9", 1)[1].split("\n")[2]
    assert [c.strip() for c in head.strip("|").split("|")][2::2] == ["0 blocks", "last MLP", "1 blocks"]
    partial = _table(md, "Fig. 9")
    assert [c.split(" [")[0] for c in _row(partial, "mae")[2:]] == ["50.0", "62.0", "70.0"]
    # the sweep of scratch skipped k = 0: its linear probe run is that point (on other data: no gain computed)
    assert [c.split(" [")[0] for c in _row(partial, "scratch")[2:]] == ["30.0", "—", "45.0"]
    assert _row(partial, "Δ mae − scratch")[2:] == ["n/c", "—", "+25.0"]


def test_every_number_carries_its_protocol(report):
    written, md, rows = report
    ids = {r.id for r in written["collection"].results}
    for row in rows:
        if row["status"] == "ok":
            assert row["protocol_id"] in ids and row["metrics_file"].endswith("metrics.json")
            assert f"[{row['protocol_id']}]" in md
    box = next(r for r in rows if r["column"] == "AP box" and r["backbone"] == "mae")
    assert (box["fingerprint"], box["test_mode"], box["evaluator"]) == (
        "c0c0c0c0",
        "test_mode=single-scale 128, max 100 dets",
        "pycocotools",
    )
    assert box["evaluator_version"] == "pycocotools 2.0.10" and box["seed"] == "0" and box["world_size"] == "1"


def test_figures_from_scalar_logs_partial_and_robustness(report):
    written, md, _ = report
    names = {p.name for p in written["figures"].values()}
    assert names == {"training_curves.png", "partial_finetune.png", "gains.png", "robustness_corruptions.png"}
    for p in written["figures"].values():
        assert p.stat().st_size > 5000 and p.read_bytes()[:4] == b"\x89PNG"
        assert f"]({p.name})" in md


def test_protocol_summary_and_comparable():
    full = {
        "task": "segment",
        "seed": 0,
        "world_size": 8,
        "versions": {"mmsegmentation": "1.2.2"},
        "protocol": {
            "dataset": {"sha256": "ab", "num_files": 3},
            "test": {"mode": "slide"},
            "evaluator": "mmseg IoUMetric",
        },
    }
    s = proto.summary(full)
    assert s["missing"] == [] and s["evaluator_version"] == "mmsegmentation 1.2.2"
    whole = {**full, "protocol": {**full["protocol"], "test": {"mode": "whole"}}}
    assert proto.comparable(s, proto.summary(whole)) == [
        ("different test modes (test={mode: slide} vs test={mode: whole})")
    ]
    assert proto.summary({**full, "protocol": {"dataset": {"sha256": "ab"}}})["missing"] == ["test_mode", "evaluator"]
    assert proto.comparable(s, s) == []


def test_unreadable_record_is_reported_and_empty_dir_refused(tmp_path):
    shutil.copytree(FIXTURES / "suite", tmp_path / "suite")
    (tmp_path / "suite" / "mae" / "detect" / "metrics.json").write_text("{torn")
    coll = collect([tmp_path / "suite"])
    assert any("mae/detect/metrics.json: unreadable" in p for p in coll.problems)
    assert not any(r.kind == "detect" and r.backbone == "mae" for r in coll.results)
    rows = {t.spec.key: t for t in build_tables(coll)}["coco"].rows
    assert all(c.value is None for r in rows for c in r.cells)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="nothing to report"):
        collect([tmp_path / "empty"])


def test_cli_writes_into_out_and_refuses_a_missing_dir(tmp_path, capsys):
    assert cli(["report", str(FIXTURES / "suite"), "--out", str(tmp_path / "r"), "--no-reconstructions"]) == 0
    assert (tmp_path / "r" / "report.md").is_file() and (tmp_path / "r" / "report.csv").is_file()
    assert cli(["report", str(tmp_path / "nope")]) == 2
    assert "no such work dir" in capsys.readouterr().err
