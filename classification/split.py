"""A split of a labelled dataset as every reader returns it (datasets.py) and the low-shot cut keeps it (lowshot.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mae_backbone.errors import BadInputError


@dataclass
class Split:
    """One split of a dataset: files, integer labels and the class names in index order."""

    root: Path
    files: list[Path]
    labels: list[int]
    classes: list[str]
    format: str
    split: str
    subset: dict | None = None  # a low-shot subset: how it was chosen (see lowshot.py)

    def __post_init__(self) -> None:
        n = len(self.classes)
        bad = [(f, y) for f, y in zip(self.files, self.labels) if not 0 <= y < n]
        if bad:
            f, y = bad[0]
            raise BadInputError(
                f"{self.root}: {len(bad)} labels outside 0..{n - 1} (first: {f} has label {y}); the label "
                f"list and the class list disagree: fix the list file or use the matching class file"
            )
        if not self.files:
            raise BadInputError(f"{self.root}: the {self.split} split holds no images; check the dataset path")
