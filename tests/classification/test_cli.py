"""The commands: bad input gives one clear line and a non-zero exit, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from classification.commands import CONFIG_DIR
from tools.cli import main


def test_missing_dataset_is_one_clear_error(tmp_path, capsys):
    rc = main(["finetune", "--data", str(tmp_path / "nope"), "--work-dir", str(tmp_path / "wd")])
    err = capsys.readouterr().err
    assert rc == 2 and "nope/train: no such folder" in err and "Traceback" not in err
    assert not (tmp_path / "wd" / "metrics.json").exists()


def test_recipe_of_another_protocol_and_typos_are_refused(tmp_path, capsys):
    assert main(["linprobe", str(CONFIG_DIR / "finetune_demo.py"), "--work-dir", str(tmp_path)]) == 2
    assert "run it with `maebench finetune`" in capsys.readouterr().err
    assert main(["finetune", "optim.blrr=1e-3", "--work-dir", str(tmp_path)]) == 2
    assert "did you mean optim.blr" in capsys.readouterr().err
    assert main(["partial", "--blocks", "0,99", "--data", str(tmp_path), "--work-dir", str(tmp_path)]) == 2
    assert "choose 0..6 or 'mlp'" in capsys.readouterr().err


def test_robustness_needs_a_classifier(demo_world, tmp_path, capsys):
    from mae_backbone import create_vit
    from mae_backbone.checkpoint import save_backbone

    backbone = save_backbone(
        tmp_path / "b.safetensors",
        create_vit("vit_mini_patch16", depth=2).state_dict(),
        dict(arch_name="vit_mini_patch16"),
    )
    rc = main(["robustness", str(backbone), "--data", demo_world["robustness"], "--work-dir", str(tmp_path / "r")])
    assert rc == 2 and "holds no classifier head" in capsys.readouterr().err


def test_every_shipped_recipe_loads():
    from classification.commands import load_protocol_config
    from mae_backbone.factory import VARIANTS

    configs = sorted(p for p in CONFIG_DIR.glob("*.py") if p.stem.split("_")[0] in ("finetune", "linprobe", "partial"))
    assert len(configs) > 0
    for path in configs:
        protocol = path.stem.split("_")[0]
        cfg = load_protocol_config(str(path), [], protocol)
        assert cfg.arch in VARIANTS, path
        assert cfg.optim.optimizer == ("LARS" if protocol == "linprobe" else "AdamW"), path


def test_each_task_resolves_its_default_config_with_its_flags(tmp_path):
    """The Task API: defaults, then overrides, then flags -- the same dict the command line and the suite run."""
    from classification.commands.robustness import TASK as ROBUSTNESS
    from mae_backbone.errors import ConfigError
    from tools.commands import TASKS, load_task

    for name in TASKS:
        task = load_task(name)
        assert task.name == name and Path(task.default_config).is_file()
    finetune = load_task("finetune")
    cfg = finetune.build_cfg(
        None, ["optim.blr=3e-3"], data="d", pretrained="p.safetensors", seed=7, work_dir=str(tmp_path)
    )
    assert (cfg["optim"]["blr"], cfg["data"]["root"], cfg["pretrained"], cfg["seed"]) == (3e-3, "d", "p.safetensors", 7)
    with pytest.raises(ConfigError, match="unknown flag"):
        finetune.build_cfg(None, [], blocks="1")  # partial's flag, not finetune's
    cfg = ROBUSTNESS.build_cfg(None, ["batch_size=8"], checkpoint="c.safetensors", data="r")
    assert (cfg["batch_size"], cfg["data"]["root"], cfg["work_dir"]) == (8, "r", "work_dirs/robustness_c")
    assert load_task("partial").build_cfg(None, [], blocks="mlp,1")["blocks"] == "mlp,1"
