"""Shared fixtures: tiny models (embed 64, depth 4) and fixed seeds, CPU only."""

from __future__ import annotations

import pytest
import torch

TINY = dict(embed_dim=64, depth=4, num_heads=2)
TINY_DECODER = dict(decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory):
    """The `tiny` demo world, generated once per test session (seconds). Returns generate()'s summary."""
    from tools.demo_world import generate_cached

    return generate_cached(tmp_path_factory.getbasetemp() / "demo_world_tiny", size="tiny", seed=0)
