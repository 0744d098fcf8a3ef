"""The `tiny` demo world, generated once per session and shared (same folder as tests/conftest.py's)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory) -> dict:
    """generate()'s summary of the tiny world (seed 0); generated once, in seconds, reused after."""
    from tools.demo_world import generate_cached

    return generate_cached(tmp_path_factory.getbasetemp() / "demo_world_tiny", size="tiny", seed=0)


@pytest.fixture
def world_copy(demo_world, tmp_path) -> Callable[[str], Path]:
    """copy("coco") -> a private copy of one folder of the tiny world, for tests that plant errors."""

    def copy(name: str) -> Path:
        dst = tmp_path / name
        shutil.copytree(Path(demo_world["root"]) / name, dst)
        return dst

    return copy
