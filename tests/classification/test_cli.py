"""The commands: bad input gives one clear line and a non-zero exit, before anything is written."""
from __future__ import annotations

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

    backbone = save_backbone(tmp_path / "b.safetensors", create_vit("vit_mini_patch16", depth=2).state_dict(),
                             dict(arch_name="vit_mini_patch16"))
    rc = main(["robustness", str(backbone), "--data", demo_world["robustness"], "--work-dir", str(tmp_path / "r")])
    assert rc == 2 and "holds no classifier head" in capsys.readouterr().err


def test_every_shipped_recipe_loads():
    from classification.commands import load_protocol_config
    from mae_backbone.factory import VARIANTS

    configs = sorted(CONFIG_DIR.glob("*.py"))
    assert len(configs) > 0
    for path in configs:
        protocol = path.stem.split("_")[0]
        cfg = load_protocol_config(str(path), [], protocol)
        assert cfg.arch in VARIANTS, path
        assert cfg.optim.optimizer == ("LARS" if protocol == "linprobe" else "AdamW"), path
