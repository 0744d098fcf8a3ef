"""Every shipped segmentation config resolves into the recipe it claims (without building ViT-B/L)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mae_backbone.errors import ConfigError
from mae_backbone.runtime.batch import batch_plan
from mae_backbone.runtime.config import check_known_keys, load_config
from segmentation.build import evaluation_protocol, model_cfg, schedulers
from segmentation.run import CONFIG_KEYS, runner_kwargs

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "segmentation" / "configs").glob("*.py"))


def resolved(name: str, *overrides: str) -> dict:
    path = next(p for p in CONFIGS if p.name == name)
    cfg = load_config(path, overrides)
    check_known_keys(cfg, CONFIG_KEYS, str(path))
    cfg.data.root, cfg.work_dir = "unused", "unused"
    return cfg.to_dict()


def test_every_config_resolves():
    assert len(CONFIGS) >= 4
    for path in CONFIGS:
        cfg = resolved(path.name)
        kwargs, plan = runner_kwargs(cfg, [f"c{i}" for i in range(cfg["data"]["num_classes"])], world_size=1)
        assert kwargs["model"]["type"] == "ViTEncoderDecoder" and plan["accum"] >= 1
        assert kwargs["train_cfg"]["max_iters"] == cfg["schedule"]["iters"] * plan["accum"]


@pytest.mark.parametrize(
    "name, arch, out_indices, lr, decay, drop_path, expected",
    [
        ("upernet_mae_vit_base_512_160k.py", "vit_base_patch16", [3, 5, 7, 11], 1e-4, 0.65, 0.1, 48.1),
        ("upernet_mae_vit_base_512_160k_fair.py", "vit_base_patch16", [3, 5, 7, 11], 8e-5, 0.8, 0.1, 48.1),
        ("upernet_mae_vit_large_512_160k.py", "vit_large_patch16", [7, 11, 15, 23], 1e-4, 0.8, 0.2, 53.6),
    ],
)
def test_paper_recipes(name, arch, out_indices, lr, decay, drop_path, expected):
    cfg = resolved(name)
    assert (cfg["arch"], cfg["model"]["out_indices"], cfg["model"]["drop_path_rate"]) == (arch, out_indices, drop_path)
    assert (cfg["optim"]["lr"], cfg["optim"]["layer_decay"], cfg["optim"]["weight_decay"]) == (lr, decay, 0.05)
    assert cfg["expected"]["mIoU"] == expected
    assert cfg["data"]["crop_size"] == 512 and cfg["model"]["rel_pos_bias"] is True
    assert evaluation_protocol(cfg) == {
        "mode": "slide",
        "crop_size": [512, 512],
        "stride": [341, 341],
        "scales": "single-scale",
        "flip": False,
        "resize": [2048, 512],
        "keep_ratio": True,
    }
    # global batch 16 = 8 GPUs x 2; one GPU accumulates 8 steps, and the schedule counts optimizer steps
    assert batch_plan(cfg["data"]["batch_size"], 8, cfg["optim"]["global_batch"]) == {"global_batch": 16, "accum": 1}
    assert batch_plan(cfg["data"]["batch_size"], 1, cfg["optim"]["global_batch"])["accum"] == 8
    warm, poly = schedulers(cfg, accum=1)
    assert (warm["type"], warm["end"], warm["start_factor"]) == ("LinearLR", 1500, 1e-6)
    assert (poly["type"], poly["power"], poly["eta_min"], poly["end"]) == ("PolyLR", 1.0, 0.0, 160000)
    model = model_cfg(cfg, 150)
    assert model["test_cfg"] == {"mode": "slide", "crop_size": (512, 512), "stride": (341, 341)}
    assert (
        model["decode_head"]["pool_scales"] == (1, 2, 3, 6)
        and model["auxiliary_head"]["loss_decode"]["loss_weight"] == 0.4
    )


def test_inconsistent_settings_are_refused():
    with pytest.raises(ConfigError, match="test.crop_size"):
        evaluation_protocol(resolved("upernet_mae_vit_base_512_160k.py", "test.crop_size=640"))
    with pytest.raises(ConfigError, match="global batch 16"):
        batch_plan(3, 1, 16)
    with pytest.raises(ConfigError, match="unknown key 'optim.layer_decay_rate'"):
        resolved("upernet_mae_vit_base_512_160k.py", "optim.layer_decay_rate=0.9")
