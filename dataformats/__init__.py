"""Validators for the release formats of the datasets maebench reads (numpy, PIL and json only).

Each `validate_*` returns a list of `Problem`s (file, message, fix, level) and never raises on bad data;
`raise_if_problems(problems)` turns errors into one `BadInputError`. They are meant to run on real
datasets before a long job: structure and annotations are checked in full, image files on a sample
(deep=True checks and decodes every file).
"""

from __future__ import annotations

from .ade20k import validate_ade20k
from .coco import validate_coco, validate_coco_json
from .imagefolder import ClassIndex, load_class_index, validate_imagefolder
from .inat import validate_inat
from .places import validate_places
from .problems import ERROR, WARNING, Problem, errors, format_problems, raise_if_problems
from .robustness import BENCHMARK_CORRUPTIONS, validate_imagenet_c, validate_subset_index

__all__ = [
    "ERROR",
    "WARNING",
    "Problem",
    "errors",
    "format_problems",
    "raise_if_problems",
    "validate_coco",
    "validate_coco_json",
    "validate_ade20k",
    "validate_imagefolder",
    "load_class_index",
    "ClassIndex",
    "validate_inat",
    "validate_places",
    "validate_imagenet_c",
    "validate_subset_index",
    "BENCHMARK_CORRUPTIONS",
]
