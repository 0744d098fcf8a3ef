"""`maebench report`: paper-style tables (Markdown + CSV) and PNG figures from the runs' metrics.json files.

- `collect`: find and label every metrics.json (backbone, protocol kind) under the work dirs.
- `protocol`: the fields that make two numbers comparable, and why two are not.
- `anchors`: the paper's published numbers with their provenance, as data.
- `stats`: bootstrap intervals over the evaluation images and seeds, from the runs' per-image outcomes.
- `tables`: the tables as data (Tables 3 with kNN, low-shot, 4, 5, 6, 13 and Fig. 9); `render`: Markdown and
  CSV; `plots`: PNGs; `cost`: each number's recorded cost (device time, training FLOPs, memory);
  `compute_plot`: accuracy against training compute (Fig. 9 with FLOPs on the x-axis); `sweep`: what a held-out
  recipe sweep chose for a number (its grid points are no results).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def build_report(
    work_dirs: list[str | Path],
    out_dir: str | Path,
    visualize: bool = True,
    num_images: int = 4,
    bootstrap: int = 1000,
    coco_bootstrap: int = 200,
    bootstrap_seed: int = 0,
) -> dict[str, Any]:
    """Write report.md, report.csv and the PNGs into `out_dir`; return their paths.

    `bootstrap`: replicates per cell of the top-1 / mIoU intervals; `coco_bootstrap`: per COCO AP cell (each
    replicate is a COCO accumulate); 0 turns intervals off; `bootstrap_seed`: the draws' seed. (A suite's
    `report = dict(...)` passes these.)"""
    from mae_backbone.fileio import atomic_write_text

    from .collect import collect
    from .compute_plot import accuracy_vs_compute
    from .plots import all_figures
    from .render import csv_text, markdown
    from .tables import Options, build_tables

    out_dir = Path(out_dir)
    coll = collect(list(work_dirs))
    tables = build_tables(coll, Options(bootstrap, coco_bootstrap, bootstrap_seed))
    figures = all_figures(coll, tables, out_dir, visualize=visualize, num_images=num_images)
    if (compute := accuracy_vs_compute(tables, out_dir / "accuracy_vs_compute.png")) is not None:
        figures["accuracy vs training compute"] = compute
    md = atomic_write_text(out_dir / "report.md", markdown(coll, tables, figures, out_dir))
    table_csv = atomic_write_text(out_dir / "report.csv", csv_text(tables))
    return {"markdown": md, "csv": table_csv, "figures": figures, "tables": tables, "collection": coll}
