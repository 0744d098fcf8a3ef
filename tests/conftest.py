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
