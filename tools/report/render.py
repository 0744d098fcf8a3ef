"""The tables as Markdown (numbers tagged with their protocol footnote) and as CSV (one line per number)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from . import cost, protocol, sweep
from .collect import LOW_SHOT_KINDS, Collection
from .tables import Cell, Gain, Table


def _num(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "—"
    v = round(v, 1) + 0.0  # no "-0.0"
    return f"{v:+.1f}" if signed else f"{v:.1f}"


def _ci(ci: tuple[float, float] | None) -> str:
    return f" [{_num(ci[0])}, {_num(ci[1])}]" if ci else ""


def _cell(c: Cell) -> str:
    """`43.3 ±0.4 [40.1, 46.5] [p3,p4,p5]`: mean over seeds, std over seeds (several), 95% interval, footnotes."""
    if c.value is not None:
        std = c.estimate.std if c.estimate else None
        return f"{c.value:.1f}" + (f" ±{std:.1f}" if std is not None else "") + _ci(c.interval) + f" [{c.ids}]"
    if c.status:
        return f"*{c.status}*" + (f" [{c.result.id}]" if c.result else "")
    return "—"


def _gain(g: Gain) -> str:
    """`+2.1 [0.4, 3.9]`, `+0.3 [-1.2, 1.8] n.s.`, `n/c`, or `—`."""
    if isinstance(g.value, str):
        return g.value
    if g.value is None:
        return "—"
    return _num(g.value, True) + _ci(g.interval) + (" n.s." if g.significant is False else "")


def _paper(c: Cell) -> list[str]:
    if not c.paper:
        return ["", "", ""]
    return [f"{c.paper.value:g} {c.paper.tag}", _num(c.paper_diff, True), c.verdict.label() if c.verdict else ""]


def interval_note(t: Table) -> str | None:
    """What the brackets of this table mean: replicates, images, seeds, and the bootstrap's cost."""
    cells = [c for r in t.rows for c in r.cells if c.value is not None]
    if not cells:
        return None
    drawn = sorted({(c.replicates, c.outcomes[0].n) for c in cells if c.outcomes and c.replicates})
    seeds = sorted({len(c.results) for c in cells})
    text = (
        "[lo, hi]: 95% bootstrap interval over the evaluation images"
        + (" and seeds (seeds resampled, then images)" if max(seeds) > 1 else "")
        + (": " + "; ".join(f"{b} replicates of {n} images" for b, n in drawn) if drawn else "")
        + f" ({t.seconds:.2f} s for this table)."
    )
    if max(seeds) > 1:
        text += f" Cells are the mean over {'/'.join(map(str, seeds))} seeds ± their standard deviation."
    if any(not c.interval for c in cells):
        text += (
            " A number without brackets has no interval: its run saved no per-image outcomes (or they did "
            "not fit, see below), or the report drew 0 replicates."
        )
    if t.gains:
        text += " Δ rows: paired bootstrap on the same images; n.s. = the interval covers 0."
    return text


def cost_groups(t: Table) -> list[list[int]]:
    """Column indices that share their runs (same result kind and sweep point, e.g. AP box and AP mask): each
    group gets one cost column, after its last column."""
    groups: list[list[int]] = []
    for i, col in enumerate(t.columns):
        prev = t.columns[groups[-1][-1]] if groups else None
        if prev is not None and (prev.kind, prev.part) == (col.kind, col.part):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _cost_cell(cells: list[Cell]) -> str:
    """`1.9 CPU-s, 6.5 GFLOP [p3]`: one run's device time and training FLOPs, then its footnote (tools/report/
    cost.py); the number first and the footnote inside, as every cell of a backbone's row."""
    c = next((c for c in cells if c.results), None)
    return "—" if c is None or c.cost is None else f"{cost.text(c.cost)} [{c.ids}]"


def sweep_notes(t: Table, groups: list[list[int]]) -> list[str]:
    """A line per swept cell (columns sharing a run share it): chosen values, held-out score, gap; the legend."""
    lines = []
    for row in t.rows:
        for g in groups:
            titles = " / ".join(t.columns[i].title for i in g)
            if line := sweep.note(row.label, titles, row.cells[g[0]].results):
                lines.append(line)
    return [sweep.NOTE, *lines] if lines else []


def table_markdown(t: Table) -> str:
    groups = cost_groups(t)
    last = {g[-1]: g for g in groups}
    head = ["backbone", "arch"]
    for i, col in enumerate(t.columns):
        head.append(col.title + (" ↓" if col.lower_better else ""))
        if t.show_paper:
            head += ["paper", "Δ paper", "verdict"]
        if i in last:
            head.append((f"{t.columns[i].title} " if len(groups) > 1 else "") + cost.HEADER)
    lines = [f"### {t.spec.title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in t.rows:
        cells = [row.label, row.arch or "—"]
        for i, c in enumerate(row.cells):
            cells.append(_cell(c))
            if t.show_paper:
                cells += _paper(c)
            if i in last:
                cells.append(_cost_cell([row.cells[j] for j in last[i]]))
        lines.append("| " + " | ".join(cells) + " |")
    for label, gains in t.gains:
        cells = [f"Δ {label}", ""]
        for i, g in enumerate(gains):
            cells.append(_gain(g))
            if t.show_paper:
                cells += ["", "", ""]
            if i in last:
                cells.append("")
        lines.append("| " + " | ".join(cells) + " |")
    notes = ([t.spec.note] if t.spec.note else []) + ([n] if (n := interval_note(t)) else []) + t.notes
    notes += sweep_notes(t, groups)
    if t.show_paper:
        notes.append(
            "paper: the published number for this architecture and pre-training (tools/report/anchors.py; "
            "tags as in reference/anchors.md: [doc] official README, [3p] third-party quote, [paper] "
            "the paper's text, [issue] a maintainer's thread). verdict: our interval against the published "
            "run-to-run spread where one is published (FINETUNE.md's per-seed runs), else against the "
            "published number."
        )
        spreads = {c.verdict.spread for r in t.rows for c in r.cells if c.verdict and c.verdict.spread}
        notes += [f"published spread {s.label()}: {s.source}" for s in spreads]
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
        parts.append(
            f"Suite `{path.parent}` (config `{(suite.get('protocol') or {}).get('config')}`): {done}; "
            f"{(suite.get('metrics') or {}).get('seconds', '?')} s wall time this run "
            f"({(suite.get('metrics') or {}).get('cpu_seconds', '?')} CPU s; load average at the end "
            f"{(suite.get('metrics') or {}).get('load_average', '?')}), finished "
            f"{suite.get('finished_at', '?')} on {(suite.get('machine') or {}).get('cpu_count', '?')} CPUs."
        )
        own = {label: b["overrides"] for label, b in (suite.get("backbones") or {}).items() if b.get("overrides")}
        if own:  # the Δ rows then compare recipes too, not only initialisations: say so next to the tables
            parts.append(
                "Recipes differ per backbone (these overrides apply on top of the protocol's shared ones): "
                + "; ".join(
                    f"{label}: " + ", ".join(f"{p} `{' '.join(o)}`" for p, o in protos.items())
                    for label, protos in own.items()
                )
                + "."
            )
        swept = {label: b["sweep"] for label, b in (suite.get("backbones") or {}).items() if b.get("sweep")}
        if swept:  # each backbone's recipe of these protocols was chosen on held-out training images
            parts.append(sweep.grids_text(swept))
    parts += [
        "",
        (
            "Each number is followed by its 95% bootstrap interval over the evaluation images [lo, hi] and its "
            "protocol footnote [pN] (listed below: data fingerprint, test mode, evaluator and version, seed, world "
            "size). Δ rows: each pre-trained backbone minus the suite's baseline (its `baseline`, else its "
            "from-scratch backbone; roles from the suite record), when both numbers share a protocol, with a "
            "paired interval; n.s. marks a gain whose interval covers 0."
        ),
        "",
        cost.NOTE,
        "",
    ]
    parts += [table_markdown(t) for t in tables]
    if figures:
        parts += ["## Figures", ""]
        for title, path in figures.items():
            parts.append(
                f"![{title}]({path.relative_to(out_dir).as_posix() if path.is_relative_to(out_dir) else path})"
            )
        parts.append("")
    for path, suite in coll.suites:
        stages = suite.get("stages") or {}
        if stages:
            parts += [
                f"## Stages of `{path.parent}`",
                "",
                "| stage | status | wall s | CPU s | peak RSS MiB |",
                "|---|---|---|---|---|",
            ]
            parts += [
                f"| {n} | {i.get('status')} | {i.get('seconds') or '—'} | {i.get('cpu_seconds') or '—'} | "
                f"{_rss(i.get('peak_rss_mib'))} |"
                for n, i in stages.items()
            ]
            parts.append("")
    bad = [s for s in coll.stages if s.status != "not run"]
    if bad:
        parts += ["## Stages without numbers", "", "| stage | status | why |", "|---|---|---|"]
        parts += [f"| {s.name} | {s.status} | {(s.error or '').replace('|', '/')} |" for s in bad]
        parts.append("")
    parts += ["## Protocols", ""]
    for r in coll.results:
        s = protocol.summary(r.record)
        line = f"- [{r.id}] {r.kind}, {r.backbone} (`{r.path}`): {protocol.describe(s)}"
        if r.kind in LOW_SHOT_KINDS.values() and not s["low_shot"]:  # the run did not record its subset
            line += (
                "; low-shot subset not recorded by the run, its training images: "
                f"{protocol.training_files(r.record) or 'not recorded either'}"
            )
        parts.append(line)
    if coll.problems:
        parts += ["", "## Problems", ""] + [f"- {p}" for p in coll.problems]
    return "\n".join(parts) + "\n"


CSV_FIELDS = (
    "table",
    "column",
    "backbone",
    "role",
    "arch",
    "value",
    "ci_low",
    "ci_high",
    "replicates",
    "seeds",
    "per_seed",
    "std_over_seeds",
    "status",
    "paper",
    "paper_source",
    "paper_diff",
    "paper_spread",
    "verdict",
    "gain_vs_baseline",
    "gain_ci_low",
    "gain_ci_high",
    "gain_significant",
    "baseline",
    "protocol_id",
    "task",
    "fingerprint",
    "num_files",
    "test_mode",
    "evaluator",
    "evaluator_version",
    "seed",
    "world_size",
    "missing_protocol",
    "comparable_to_baseline",
    "low_shot_sha256",
    *cost.CSV_FIELDS,
    *sweep.CSV_FIELDS,
    "metrics_file",
)


def _r(v: float | None) -> float | str:
    return "" if v is None else round(v, 4)


def csv_text(tables: list[Table]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for t in tables:
        gains = {label.split(" − ")[0]: (label.split(" − ")[1], g) for label, g in t.gains}
        for row in t.rows:
            base, row_gains = gains.get(row.label, ("", [Gain(None)] * len(t.columns)))
            for col, c, g in zip(t.columns, row.cells, row_gains):
                if c.value is None and not c.status:
                    continue
                s = protocol.summary(c.result.record) if c.result else {}
                ci, gci = c.interval or (None, None), g.interval or (None, None)
                gain = None if isinstance(g.value, str) else g.value
                w.writerow(
                    dict(
                        table=t.spec.key,
                        column=col.title,
                        backbone=row.label,
                        role=row.role,
                        arch=row.arch or "",
                        value=_r(c.value),
                        ci_low=_r(ci[0]),
                        ci_high=_r(ci[1]),
                        replicates=c.replicates or "",
                        seeds=";".join(str(r.seed) for r in c.results),
                        per_seed=";".join(f"{v:.4f}" for v in c.estimate.per_seed) if c.estimate else "",
                        std_over_seeds=_r(c.estimate.std) if c.estimate else "",
                        status=c.status or "ok",
                        paper=c.paper.value if c.paper else "",
                        paper_source=f"{c.paper.source} {c.paper.tag}" if c.paper else "",
                        paper_diff=_r(c.paper_diff),
                        paper_spread=c.verdict.spread.label() if c.verdict and c.verdict.spread else "",
                        verdict=c.verdict.word if c.verdict else "",
                        gain_vs_baseline=_r(gain),
                        gain_ci_low=_r(gci[0]),
                        gain_ci_high=_r(gci[1]),
                        gain_significant="" if g.significant is None else g.significant,
                        baseline=base,
                        protocol_id=c.ids,
                        task=c.result.record.get("task") if c.result else "",
                        fingerprint=s.get("fingerprint") or "",
                        num_files=s.get("num_files") or "",
                        test_mode=s.get("test_mode") or "",
                        evaluator=s.get("evaluator") or "",
                        evaluator_version=s.get("evaluator_version") or "",
                        seed=s.get("seed", ""),
                        world_size=s.get("world_size", ""),
                        missing_protocol=",".join(s.get("missing", [])),
                        comparable_to_baseline="" if not base or g.value is None else g.value != "n/c",
                        low_shot_sha256=(s.get("low_shot") or {}).get("sha256") or "",
                        **cost.csv_fields(c.cost),
                        **sweep.csv_fields(c.results),
                        metrics_file=";".join(str(r.path) for r in c.results)
                        or (str(c.result.path) if c.result else ""),
                    )
                )
    return buf.getvalue()
