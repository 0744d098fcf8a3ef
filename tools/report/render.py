"""The tables as Markdown (numbers tagged with their protocol footnote) and as CSV (one line per number)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from . import protocol
from .collect import Collection
from .tables import Cell, Table


def _num(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "—"
    return f"{v:+.1f}" if signed else f"{v:.1f}"


def _cell(c: Cell) -> str:
    if c.value is not None:
        return f"{c.value:.1f} [{c.result.id}]"
    if c.status:
        return f"*{c.status}*" + (f" [{c.result.id}]" if c.result else "")
    return "—"


def table_markdown(t: Table) -> str:
    head = ["backbone", "arch"]
    for col in t.columns:
        head.append(col.title + (" ↓" if col.lower_better else ""))
        if t.show_paper:
            head += ["paper", "Δ paper"]
    lines = [f"### {t.spec.title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in t.rows:
        cells = [row.label, row.arch or "—"]
        for c in row.cells:
            cells.append(_cell(c))
            if t.show_paper:
                cells += [f"{c.paper.value:g} {c.paper.tag}" if c.paper else "", _num(c.paper_diff, True)
                          if c.paper else ""]
        lines.append("| " + " | ".join(cells) + " |")
    for label, diffs in t.gains:
        cells = [f"Δ {label}", ""]
        for d in diffs:
            cells.append(d if isinstance(d, str) else _num(d, True))
            if t.show_paper:
                cells += ["", ""]
        lines.append("| " + " | ".join(cells) + " |")
    notes = ([t.spec.note] if t.spec.note else []) + t.notes
    if t.show_paper:
        notes.append("paper: the published number for this architecture and pre-training (tools/report/anchors.py; "
                     "tags as in reference/anchors.md: [doc] official README, [3p] third-party quote, [paper] "
                     "the paper's text, [issue] a maintainer's thread).")
    if any(r.demo for r in t.rows):
        notes.append("demo world: synthetic data at toy scale; no published number applies.")
    return "\n".join(lines + [""] + [f"- {n}" for n in notes] + ([""] if notes else []))


def _rss(peak: dict | None) -> str:
    """'1234 (+ 567 worker)': the stage's own peak and the largest data-loader worker's (since the suite start)."""
    if not peak or peak.get("process") is None:
        return "—"
    kid = peak.get("largest_child")
    return f"{peak['process']:.0f}" + (f" (+ {kid:.0f} worker)" if kid else "")


def markdown(coll: Collection, tables: list[Table], figures: dict[str, Path], out_dir: Path) -> str:
    parts = ["# maebench report", ""]
    for path, suite in coll.suites:
        counts = (suite.get("metrics") or {}).get("stages", {})
        done = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        parts.append(f"Suite `{path.parent}` (config `{(suite.get('protocol') or {}).get('config')}`): {done}; "
                     f"{(suite.get('metrics') or {}).get('seconds', '?')} s wall time this run "
                     f"({(suite.get('metrics') or {}).get('cpu_seconds', '?')} CPU s; load average at the end "
                     f"{(suite.get('metrics') or {}).get('load_average', '?')}), finished "
                     f"{suite.get('finished_at', '?')} on {(suite.get('machine') or {}).get('cpu_count', '?')} CPUs.")
        own = {label: b["overrides"] for label, b in (suite.get("backbones") or {}).items() if b.get("overrides")}
        if own:  # the Δ rows then compare recipes too, not only initialisations: say so next to the tables
            parts.append("Recipes differ per backbone (these overrides apply on top of the protocol's shared ones): "
                         + "; ".join(f"{label}: " + ", ".join(f"{p} `{' '.join(o)}`" for p, o in protos.items())
                                     for label, protos in own.items()) + ".")
    parts += ["", "Each number is followed by its protocol footnote [pN] (listed below: data fingerprint, test mode, "
              "evaluator and version, seed, world size). Δ rows: the pre-trained backbone minus the from-scratch "
              "one, when both numbers share a protocol.", ""]
    parts += [table_markdown(t) for t in tables]
    if figures:
        parts += ["## Figures", ""]
        for title, path in figures.items():
            parts.append(f"![{title}]({path.relative_to(out_dir).as_posix() if path.is_relative_to(out_dir) else path})")
        parts.append("")
    for path, suite in coll.suites:
        stages = suite.get("stages") or {}
        if stages:
            parts += [f"## Stages of `{path.parent}`", "", "| stage | status | wall s | CPU s | peak RSS MiB |",
                      "|---|---|---|---|---|"]
            parts += [f"| {n} | {i.get('status')} | {i.get('seconds') or '—'} | {i.get('cpu_seconds') or '—'} | "
                      f"{_rss(i.get('peak_rss_mib'))} |" for n, i in stages.items()]
            parts.append("")
    bad = [s for s in coll.stages if s.status != "not run"]
    if bad:
        parts += ["## Stages without numbers", "", "| stage | status | why |", "|---|---|---|"]
        parts += [f"| {s.name} | {s.status} | {(s.error or '').replace('|', '/')} |" for s in bad]
        parts.append("")
    parts += ["## Protocols", ""]
    for r in coll.results:
        s = protocol.summary(r.record)
        parts.append(f"- [{r.id}] {r.kind}, {r.backbone} (`{r.path}`): {protocol.describe(s)}")
    if coll.problems:
        parts += ["", "## Problems", ""] + [f"- {p}" for p in coll.problems]
    return "\n".join(parts) + "\n"


CSV_FIELDS = ("table", "column", "backbone", "arch", "value", "status", "paper", "paper_source", "paper_diff",
              "gain_vs_scratch", "protocol_id", "task", "fingerprint", "num_files", "test_mode", "evaluator",
              "evaluator_version", "seed", "world_size", "missing_protocol", "comparable_to_scratch", "metrics_file")


def csv_text(tables: list[Table]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for t in tables:
        gains = {label.split(" − ")[0]: diffs for label, diffs in t.gains}
        for row in t.rows:
            for i, (col, c) in enumerate(zip(t.columns, row.cells)):
                if c.value is None and not c.status:
                    continue
                s = protocol.summary(c.result.record) if c.result else {}
                gain = gains.get(row.label, [None] * len(t.columns))[i]
                w.writerow(dict(
                    table=t.spec.key, column=col.title, backbone=row.label, arch=row.arch or "",
                    value="" if c.value is None else round(c.value, 4), status=c.status or "ok",
                    paper=c.paper.value if c.paper else "", paper_source=f"{c.paper.source} {c.paper.tag}"
                    if c.paper else "", paper_diff="" if c.paper_diff is None else round(c.paper_diff, 4),
                    gain_vs_scratch="" if gain is None or isinstance(gain, str) else round(gain, 4),
                    protocol_id=c.result.id if c.result else "", task=c.result.record.get("task") if c.result else "",
                    fingerprint=s.get("fingerprint") or "", num_files=s.get("num_files") or "",
                    test_mode=s.get("test_mode") or "", evaluator=s.get("evaluator") or "",
                    evaluator_version=s.get("evaluator_version") or "", seed=s.get("seed", ""),
                    world_size=s.get("world_size", ""), missing_protocol=",".join(s.get("missing", [])),
                    comparable_to_scratch="" if row.role == "scratch" or gain is None else gain != "n/c",
                    metrics_file=str(c.result.path) if c.result else ""))
    return buf.getvalue()
