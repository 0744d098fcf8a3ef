"""Every shipped detection config resolves (at most two files), names a known protocol and architecture, and its
derived values are consistent: group-closing global blocks, stride-32-divisible input, schedule in range."""

from __future__ import annotations

from pathlib import Path

import pytest

from mae_backbone.factory import variant_args
from mae_backbone.pyramid import quarter_indices

pytest.importorskip("mmdet")
CONFIGS = sorted((Path(__file__).resolve().parents[2] / "detection" / "configs").glob("*.py"))


def test_configs_found():
    assert len(CONFIGS) >= 7


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_resolves(path):
    from detection.build import backbone_cfg, model_cfg, pipelines, schedulers
    from detection.run import CONFIG_KEYS
    from mae_backbone.runtime.config import check_known_keys, load_config

    cfg = load_config(path)
    check_known_keys(cfg, CONFIG_KEYS, str(path))

    def bases(p: Path) -> list[str]:
        return [
            line.split("=", 1)[1].strip().strip("\"'")
            for line in p.read_text().splitlines()
            if line.startswith("_base_")
        ]

    assert all(not bases(path.parent / b) for b in bases(path))  # at most two files decide a config
    cfg = cfg.to_dict()
    arch = {**variant_args(cfg["arch"]), **cfg["model"]["vit"]}
    size = cfg["data"]["image_size"]
    assert size % 32 == 0 and size % arch["patch_size"] == 0
    backbone = backbone_cfg(cfg)
    indices = cfg["model"]["out_indices"] or quarter_indices(arch["depth"])
    assert len(indices) == 4 and max(indices) == arch["depth"] - 1
    assert backbone["type"] == {"benchmarking": "MAEViTPyramid", "vitdet": "MAEViTSimplePyramid"}[cfg["protocol"]]
    model = model_cfg(cfg, cfg["data"]["num_classes"])
    assert model["test_cfg"]["rcnn"]["max_per_img"] == cfg["test"]["max_per_img"]
    assert model["data_preprocessor"]["pad_size_divisor"] == size
    train, test = pipelines(cfg)
    assert train[2]["ratio_range"] == (0.1, 2.0) and test[1]["scale"] == (size, size)
    scheds = schedulers(cfg, accum=1)
    assert scheds[-1]["end"] == cfg["schedule"]["iters"]
    if cfg["expected"]:
        assert {"box_AP", "mask_AP", "source"} <= set(cfg["expected"])


def test_paper_numbers_and_recipes():
    from mae_backbone.runtime.config import load_config

    base = load_config(CONFIGS[0].parent / "mask_rcnn_mae_vit_base_1024_100ep.py")
    large = load_config(CONFIGS[0].parent / "mask_rcnn_mae_vit_large_1024_100ep.py")
    assert (base.expected.box_AP, base.expected.mask_AP) == (50.3, 44.9)
    assert (large.expected.box_AP, large.expected.mask_AP) == (53.3, 47.2)
    assert base.schedule.iters * base.optim.global_batch / 118_287 == pytest.approx(100, abs=0.5)  # epochs
    assert quarter_indices(24) == [5, 11, 17, 23]  # ViTDet-L's global blocks
