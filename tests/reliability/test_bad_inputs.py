"""The bad-input sweep: each kind of broken input a user may hand `maebench`, planted in a copy of the tiny demo
world and run through the real command in-process (`tools.cli.main`).

A refused input must give exactly one `maebench <command>: error:` message that names the offending file and
says what to do, exit status 2, no traceback, and leave everything that was there before byte-identical: the
planted input, and an earlier run's metrics.json and checkpoints in the work dir. Grayscale, CMYK and 16-bit
images are not bad input: those runs must succeed and record their numbers for every image.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mae_backbone import create_vit
from mae_backbone.checkpoint import save_backbone
from mae_backbone.factory import architecture_of
from mae_backbone.pretrain import CONFIG_DIR as PRETRAIN_CONFIGS
from tests.detection.conftest import TINY_OVERRIDES as DETECT_TINY
from tests.detection.conftest import _quiet_single_thread  # noqa: F401  (autouse: one thread, no progress bars)
from tests.segmentation.conftest import TINY_OVERRIDES as SEGMENT_TINY
from tools.cli import main

# `maebench pretrain` / `finetune` at test size: 32 / 64 px, one epoch, in-process data loading.
PRETRAIN_TINY = [
    "model.img_size=32",
    "data.batch_size=8",
    "data.num_workers=0",
    "schedule.epochs=1",
    "schedule.warmup_epochs=0",
    "schedule.checkpoint_interval=1",
    "optim.precision='fp32'",
]
CLASSIFY_TINY = [
    "model.img_size=64",
    "data.batch_size=8",
    "data.eval_batch_size=8",
    "data.num_workers=0",
    "schedule.epochs=1",
    "schedule.warmup_epochs=0",
    "optim.precision='fp32'",
]
TINY = {"pretrain": PRETRAIN_TINY, "finetune": CLASSIFY_TINY, "detect": DETECT_TINY, "segment": SEGMENT_TINY}


def _argv(command: str, data, work: Path, *extra: str) -> list[str]:
    """`maebench <command>` at test size on `data` into `work`; `extra` (flags, overrides) comes last and wins."""
    return [command, "--data", str(data), "--work-dir", str(work), *TINY[command], *extra]


# A case plants its bad input under tmp/in and returns (argv, the file the message must name).
Plant = Callable[[dict, Path, Path], tuple[list[str], Path]]
CASES: dict[str, tuple[Plant, str]] = {}  # id -> (plant, regex of the fix the message must suggest)


def case(name: str, fix: str) -> Callable[[Plant], Plant]:
    def register(plant: Plant) -> Plant:
        CASES[name] = (plant, fix)
        return plant

    return register


def copy(world: dict, folder: str, tmp: Path) -> Path:
    """A private copy of one folder of the demo world, to break."""
    return Path(shutil.copytree(Path(world["root"]) / folder, tmp / "in" / folder))


def earlier_run(work: Path) -> Path:
    """A work dir holding an earlier run's results, which a refused run must leave alone."""
    work.mkdir(parents=True)
    (work / "metrics.json").write_text(json.dumps({"task": "earlier", "metrics": {"top1": 42.0}}))
    (work / "epoch_1.pth").write_bytes(b"an earlier run's checkpoint")
    (work / "backbone.safetensors").write_bytes(b"an earlier run's export")
    return work


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def edit_json(path: Path, edit: Callable[[dict], None]) -> Path:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return path


# ---- 1-3: damaged image files, in pre-training data and in an ImageFolder ------------------------------
def truncate(path: Path) -> None:  # a copy cut off at 60%: headers intact, no end-of-image marker
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])


def not_an_image(path: Path) -> None:  # what a failed download often leaves under the image's name
    path.write_text("<html><body><h1>404 Not Found</h1></body></html>\n")


DAMAGE = {"truncated-jpeg": truncate, "zero-byte": lambda p: p.write_bytes(b""), "not-an-image": not_an_image}
IMAGE_FIX = r"re-copy it|delete it"


def _pretrain_image(damage: Callable[[Path], None]) -> Plant:
    def plant(world, tmp, work):
        data = copy(world, "pretrain", tmp)
        victim = sorted(data.iterdir())[20]
        damage(victim)
        return _argv("pretrain", data, work), victim

    return plant


def _imagefolder_image(damage: Callable[[Path], None], workers: int) -> Plant:
    def plant(world, tmp, work):
        data = copy(world, "imagenet", tmp)
        victim = sorted((data / "train" / world["wnids"][1]).iterdir())[2]
        damage(victim)
        return _argv("finetune", data, work, f"data.num_workers={workers}"), victim

    return plant


for _name, _damage in DAMAGE.items():
    case(f"{_name}-pretrain", IMAGE_FIX)(_pretrain_image(_damage))
    # truncated: found when decoded, in a DataLoader worker (whose traceback torch wraps around the message)
    case(f"{_name}-imagefolder", IMAGE_FIX)(_imagefolder_image(_damage, workers=int(_name == "truncated-jpeg")))


# ---- 5-8: COCO annotations -------------------------------------------------------------------------------
def _coco_json(world: dict, tmp: Path) -> tuple[Path, Path]:
    data = copy(world, "coco", tmp)
    return data, data / "annotations" / "instances_train2017.json"


@case("coco-missing-annotation-file", r"point --data at the COCO folder")
def coco_missing_annotation_file(world, tmp, work):
    data, ann = _coco_json(world, tmp)
    ann.unlink()
    return _argv("detect", data, work), ann


@case("coco-malformed-json", r"re-download or regenerate")
def coco_malformed_json(world, tmp, work):
    data, ann = _coco_json(world, tmp)
    ann.write_text(ann.read_text()[:-100])
    return _argv("detect", data, work), ann


@case("coco-annotation-of-unlisted-image", r"remove the annotation or add its image")
def coco_annotation_of_unlisted_image(world, tmp, work):
    data, ann = _coco_json(world, tmp)
    edit_json(ann, lambda d: d["annotations"][2].update(image_id=999999))
    return _argv("detect", data, work), ann


@case("coco-annotated-image-file-missing", r"restore the file|--skip-bad")
def coco_annotated_image_file_missing(world, tmp, work):
    data, ann = _coco_json(world, tmp)
    victim = data / "train2017" / json.loads(ann.read_text())["images"][3]["file_name"]
    victim.unlink()
    return _argv("detect", data, work), victim


@case("coco-polygon-under-3-points", r"drop degenerate polygons")
def coco_polygon_under_3_points(world, tmp, work):
    data, ann = _coco_json(world, tmp)
    edit_json(
        ann,
        lambda d: next(a for a in d["annotations"] if not a["iscrowd"]).update(segmentation=[[10.0, 10.0, 20.0, 20.0]]),
    )
    return _argv("detect", data, work), ann


# ---- 9-11: labels that do not fit the classes ----------------------------------------------------------
@case("ade-label-out-of-range", r"fix the class count or the annotation")
def ade_label_out_of_range(world, tmp, work):
    root = copy(world, "ade", tmp) / "ADEChallengeData2016"
    victim = sorted((root / "annotations" / "training").iterdir())[3]
    label = np.asarray(Image.open(victim)).copy()
    label[:8, :8] = 200  # the demo world has 11 classes: 200 is neither a class nor 255 (ignore)
    Image.fromarray(label).save(victim)
    return _argv("segment", root, work), victim


@case("imagefolder-unexpected-class-folder", r"remove the folder, or add the class")
def imagefolder_unexpected_class_folder(world, tmp, work):
    data = copy(world, "imagenet", tmp)
    extra = data / "train" / "n09999999"
    extra.mkdir()
    shutil.copy(next((data / "train" / world["wnids"][0]).iterdir()), extra / "n09999999_00000.JPEG")
    return _argv("finetune", data, work), extra


@case("inat-unknown-category", r"use a listed id")
def inat_unknown_category(world, tmp, work):
    data = copy(world, "inat", tmp)
    ann = edit_json(data / "train2019.json", lambda d: d["annotations"][3].update(category_id=99))
    return _argv("finetune", data, work, "data.format='inat'", "data.year=2019"), ann


# ---- 12-14: checkpoints and configs --------------------------------------------------------------------
def _vit_checkpoint(folder: Path, name: str, **kw) -> Path:
    vit = create_vit(name, img_size=64, **kw)
    return save_backbone(
        folder / f"{name}.safetensors",
        vit.state_dict(),
        dict(arch_name=name, architecture=architecture_of(vit), img_size=64),
    )


def _finetune_from(world: dict, checkpoint: Path, work: Path) -> list[str]:
    return _argv("finetune", world["imagenet"], work, "--pretrained", str(checkpoint))


@case("checkpoint-wrong-architecture", r"set arch=vit_tiny_patch16")
def checkpoint_wrong_architecture(world, tmp, work):
    """A ViT-Ti backbone handed to the ViT-mini recipe; its sidecar says what it is."""
    ckpt = _vit_checkpoint(tmp / "in", "vit_tiny_patch16")
    return _finetune_from(world, ckpt, work), ckpt


@case("checkpoint-wrong-architecture-pth", r"set the matching arch=")
def checkpoint_wrong_architecture_pth(world, tmp, work):
    """An official-style .pth (no sidecar) of a narrower ViT: the shapes disagree."""
    ckpt = tmp / "in" / "mae_pretrain_vit_narrow.pth"
    ckpt.parent.mkdir(parents=True)
    narrow = create_vit("vit_mini_patch16", img_size=64, embed_dim=64, depth=4, num_heads=2)
    torch.save({"model": narrow.state_dict()}, ckpt)
    return _finetune_from(world, ckpt, work), ckpt


@case("checkpoint-newer-format-version", r"upgrade maebench")
def checkpoint_newer_format_version(world, tmp, work):
    """`convert --force` over an earlier output: refused before anything is written."""
    ckpt = _vit_checkpoint(tmp / "in", "vit_mini_patch16", embed_dim=64, depth=4, num_heads=2)
    sidecar = edit_json(ckpt.with_suffix(".json"), lambda meta: meta.update(format_version=99))
    return ["convert", str(ckpt), str(work / "backbone.safetensors"), "--force"], sidecar


def _broken_pth(tmp: Path, damage: Callable[[bytes], bytes]) -> Path:
    ckpt = tmp / "in" / "mae_pretrain_vit_base.pth"
    ckpt.parent.mkdir(parents=True)
    torch.save({"model": create_vit("vit_mini_patch16", img_size=64).state_dict()}, ckpt)
    ckpt.write_bytes(damage(ckpt.read_bytes()))
    return ckpt


@case("checkpoint-truncated-download", r"did not finish: fetch it again")
def checkpoint_truncated_download(world, tmp, work):
    ckpt = _broken_pth(tmp, lambda data: data[: len(data) // 2])
    return ["convert", str(ckpt), str(tmp / "out.safetensors")], ckpt


@case("checkpoint-empty-file", r"empty file .* fetch it again")
def checkpoint_empty_file(world, tmp, work):
    ckpt = _broken_pth(tmp, lambda data: b"")  # torch.load's error has no text: once an IndexError here
    return _finetune_from(world, ckpt, work), ckpt


@case("checkpoint-not-a-checkpoint", r"not a PyTorch checkpoint.*check the path")
def checkpoint_not_a_checkpoint(world, tmp, work):
    ckpt = _broken_pth(tmp, lambda data: b"<html>404 Not Found</html>")  # a failed download's error page
    return ["convert", str(ckpt), str(tmp / "out.safetensors")], ckpt


@case("resume-path-missing", r"check the path, or use --resume auto")
def resume_path_missing(world, tmp, work):
    missing = work / "epoch_9.pth"
    return _argv("finetune", world["imagenet"], work, "--resume", str(missing)), missing


@case("resume-incomplete-checkpoint", r"use --resume auto to pick the latest good one")
def resume_incomplete_checkpoint(world, tmp, work):
    torn = work / "epoch_1.pth"  # the earlier run's file is no checkpoint at all
    return _argv("finetune", world["imagenet"], work, "--resume", str(torn)), torn


@case("visualize-missing-image", r"check the path")
def visualize_missing_image(world, tmp, work):
    missing = tmp / "in" / "photo.jpg"  # a typo'd path: said as such, not as a broken image
    return ["visualize", str(work / "backbone.safetensors"), str(missing), "--out", str(work / "v.png")], missing


@case("eval-only-before-training", r"train first")
def eval_only_before_training(world, tmp, work):
    # the earlier run's epoch_1.pth is not a complete checkpoint: nothing trained to evaluate
    return _argv("segment", world["ade"], work, "--eval-only"), work


@case("config-unknown-key", r"did you mean schedule\.epochs")
def config_unknown_key(world, tmp, work):
    return _argv("pretrain", world["pretrain"], work, "schedule.epocs=3"), PRETRAIN_CONFIGS / "mae_demo.py"


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_naming_the_file_and_the_fix(name, demo_world, tmp_path, capsys):
    plant, fix = CASES[name]
    work = earlier_run(tmp_path / "work")
    argv, culprit = plant(demo_world, tmp_path, work)
    before = digests(tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    messages = [line for line in err.splitlines() if line.startswith("maebench ")]
    assert code == 2, err
    assert len(messages) == 1 and messages[0].startswith(f"maebench {argv[0]}: error: "), err
    assert "Traceback" not in err + out and 'File "' not in err, err
    assert str(culprit) in err, f"the message does not name {culprit}:\n{err}"
    assert re.search(fix, err), f"no fix ({fix}) suggested:\n{err}"
    after = digests(tmp_path)
    assert {k: after.get(k) for k in before} == before  # the input and the earlier run's files: untouched


# ---- 4: grayscale, CMYK and 16-bit images just work ---------------------------------------------------
def grayscale(path: Path) -> Path:
    Image.open(path).convert("L").save(path, "JPEG")
    return path


def cmyk(path: Path) -> Path:
    Image.open(path).convert("RGB").convert("CMYK").save(path, "JPEG")
    return path


def sixteen_bit(path: Path) -> Path:  # 16-bit grayscale PNG (microscopy, medical, scanned film)
    gray = np.asarray(Image.open(path).convert("L")).astype(np.uint16) * 257
    path.unlink()
    out = path.with_suffix(".png")
    Image.fromarray(gray).save(out)
    return out


MODES = {"grayscale": (grayscale, {"L"}), "cmyk": (cmyk, {"CMYK"}), "16-bit": (sixteen_bit, {"I;16", "I"})}


def _convert_some(files: list[Path], mode: str) -> list[Path]:
    convert, modes = MODES[mode]
    done = [convert(f) for f in files[::3]]
    assert all(Image.open(f).mode in modes for f in done)
    return done


@pytest.mark.parametrize("mode", list(MODES))
def test_odd_image_modes_just_work_in_pretraining(mode, demo_world, tmp_path, capsys):
    data = copy(demo_world, "pretrain", tmp_path)
    _convert_some(sorted(data.iterdir()), mode)
    planted = digests(data)
    work = tmp_path / "work"
    code = main(_argv("pretrain", data, work))
    assert code == 0, capsys.readouterr().err
    record = json.loads((work / "metrics.json").read_text())
    assert math.isfinite(record["metrics"]["final_loss"]) and record["metrics"]["iters"] > 0
    assert record["protocol"]["dataset"]["num_files"] == demo_world["counts"]["pretrain"]  # none skipped
    assert (work / "backbone.safetensors").is_file() and digests(data) == planted


@pytest.mark.parametrize("mode", list(MODES))
def test_odd_image_modes_just_work_in_an_imagefolder(mode, demo_world, tmp_path, capsys):
    data = copy(demo_world, "imagenet", tmp_path)
    for split in ("train", "val"):
        _convert_some(sorted((data / split).rglob("*.JPEG")), mode)
    work = tmp_path / "work"
    code = main(_argv("finetune", data, work))
    assert code == 0, capsys.readouterr().err
    record = json.loads((work / "metrics.json").read_text())
    assert 0 <= record["metrics"]["top1"] <= 100
    assert record["metrics"]["num_samples"] == demo_world["counts"]["imagenet"]["val"]  # every image evaluated
