"""The dataformats validators pass the demo world and catch planted errors, naming the file and a fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import dataformats as df
from mae_backbone.errors import BadInputError
from tools.demo_world import check_world


def only_errors(problems):
    return [p for p in problems if p.level == df.ERROR]


def assert_caught(problems, path_part: str, *words: str) -> df.Problem:
    """Exactly the planted error is reported: an error whose path names the file and whose message says it."""
    hits = [p for p in only_errors(problems) if path_part in p.path and all(w in p.message for w in words)]
    assert hits, f"not caught: {path_part} {words}; got {[str(p) for p in problems]}"
    assert hits[0].fix
    return hits[0]


def test_the_demo_world_passes_every_validator_deep(demo_world):
    problems = check_world(demo_world["root"], deep=True)
    assert only_errors(problems) == []
    # tiny corrupts 2 of 6 classes: reported, as a warning
    assert [p.message for p in problems if p.level == df.WARNING] == ["covers 2 of the 6 indexed classes"]


def test_raise_if_problems_names_file_and_fix(world_copy):
    root = world_copy("coco")
    victim = sorted((root / "val2017").iterdir())[0]
    victim.unlink()
    problems = df.validate_coco(root)
    with pytest.raises(BadInputError) as err:
        df.raise_if_problems(problems, "COCO")
    assert victim.name in str(err.value) and "fix:" in str(err.value)
    df.raise_if_problems([df.Problem("x", "only a warning", "nothing", df.WARNING)])  # warnings never raise


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _crowd(d: dict) -> dict:
    return next(a for a in d["annotations"] if a["iscrowd"])


JSON = "instances_train2017.json"


@pytest.mark.parametrize(
    "plant, where, message",
    [
        (lambda d: d["annotations"][0].update(category_id=1), JSON, "category_id 1 is not one of the categories"),
        (
            lambda d: d["annotations"][0]["bbox"].__setitem__(0, d["annotations"][0]["bbox"][0] + 30),
            JSON,
            "does not enclose its mask",
        ),
        (lambda d: d["annotations"][1].update(segmentation=[[1.0, 2.0, 3.0]]), JSON, "polygon must be"),
        (lambda d: d["annotations"][2].update(id=d["annotations"][1]["id"]), JSON, "repeated"),
        (lambda d: d["annotations"][0].update(image_id=99999), JSON, "image_id 99999"),
        (lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), JSON, "bbox must be"),
        (lambda d: _crowd(d)["segmentation"].update(size=[64, 64]), JSON, "RLE size"),
        (lambda d: _crowd(d).update(area=1.0), JSON, "area 1 but"),
        (
            lambda d: d["images"][0].update(width=64),
            "000000000001.jpg",
            "image is 128x128 but the annotations say 64x128",
        ),
    ],
)
def test_coco_planted_errors(world_copy, plant, where, message):
    root = world_copy("coco")
    _edit_json(root / "annotations" / JSON, plant)
    assert_caught(df.validate_coco(root), where, message)


def test_coco_missing_image_truncated_json_and_json_path(world_copy):
    root = world_copy("coco")
    victim = sorted((root / "train2017").iterdir())[3]
    victim.unlink()
    assert_caught(df.validate_coco(root, deep=True), victim.name, "missing")
    val = root / "annotations" / "instances_val2017.json"
    val.write_text(val.read_text()[:500])
    assert_caught(df.validate_coco(val), "instances_val2017.json", "not valid JSON")


def test_ade_planted_errors(world_copy, demo_world):
    root = world_copy("ade")
    ann = root / "ADEChallengeData2016" / "annotations" / "training"
    labels = sorted(ann.iterdir())
    labels[0].unlink()
    Image.fromarray(np.full((128, 128), 200, np.uint8)).save(labels[1])
    Image.fromarray(np.zeros((128, 128, 3), np.uint8)).save(labels[2])
    Image.fromarray(np.ones((64, 128), np.uint8)).save(labels[3])
    k = demo_world["ade_num_classes"]
    problems = df.validate_ade20k(root, k, deep=True)
    assert_caught(problems, labels[0].name, "label missing")
    assert_caught(problems, labels[1].name, f"out of range 0..{k}")
    assert_caught(problems, labels[2].name, "mode RGB")
    assert_caught(problems, labels[3].name, "label is 128x64 but image")
    # the clean world read with a wrong class count: labels above it are caught
    assert_caught(df.validate_ade20k(demo_world["ade"], 5), "annotations", "out of range 0..5")


def test_imagefolder_planted_errors(world_copy, demo_world):
    root = world_copy("imagenet")
    train = root / "train"
    some_image = next((train / "n01000000").iterdir())
    (train / "n09999999").mkdir()
    shutil.copy(some_image, train / "n09999999")
    shutil.rmtree(train / "n03000000")
    problems = df.validate_imagefolder(train)  # finds imagenet_class_index.json one level up
    assert_caught(problems, "n09999999", "unexpected class folder")
    assert_caught(problems, "n03000000", "has no folder", "shift")
    for f in (train / "n04000000").iterdir():
        f.unlink()
    assert_caught(df.validate_imagefolder(train), "n04000000", "has no images")
    assert_caught(df.validate_imagefolder(root), str(root), "split folders")
    index = json.loads((root / "imagenet_class_index.json").read_text())
    index["0"], index["1"] = index["1"], index["0"]
    (root / "imagenet_class_index.json").write_text(json.dumps(index))
    assert_caught(df.validate_imagefolder(root / "val"), "imagenet_class_index.json", "not in sorted order")
    del index["2"]
    (root / "imagenet_class_index.json").write_text(json.dumps(index))
    assert_caught(df.validate_imagefolder(root / "val"), "imagenet_class_index.json", "index 2 is missing")


def test_inat_planted_errors(world_copy):
    root = world_copy("inat")
    train = root / "train2019.json"
    data = json.loads(train.read_text())
    missing = data["images"][0]["file_name"]
    (root / missing).unlink()
    data["annotations"][1]["category_id"] = 99
    data["annotations"].pop(2)
    del data["categories"][0]["genus"]
    train.write_text(json.dumps(data))
    problems = df.validate_inat(root, 2019)
    assert_caught(problems, Path(missing).name, "missing")
    assert_caught(problems, "train2019.json", "category_id 99")
    assert_caught(problems, "train2019.json", "1 images have no annotation")
    assert_caught(problems, "train2019.json", "lacks genus")
    assert_caught(df.validate_inat(root, 2017), "train2017.json", "not found")


def test_places_planted_errors(world_copy):
    root = world_copy("places")
    lines = (root / "places365_train_standard.txt").read_text().splitlines()
    path0, label0 = lines[0].rsplit(" ", 1)
    (root / "data_256" / path0.lstrip("/")).unlink()
    shifted = [f"{p} {(int(lbl) + 1) % 5}" for p, lbl in (x.rsplit(" ", 1) for x in lines[1:])]
    (root / "places365_train_standard.txt").write_text("\n".join([lines[0]] + shifted) + "\n")
    (root / "places365_val.txt").write_text("Places365_val_00000001.jpg 7\n")
    problems = df.validate_places(root)
    assert_caught(problems, Path(path0).name, "missing")
    assert_caught(problems, "places365_train_standard.txt", "but the path is in")
    assert_caught(problems, "places365_val.txt", "label 7 out of range 0..4")
    cats = (root / "categories_places365.txt").read_text().replace(" 2\n", " 3\n")
    (root / "categories_places365.txt").write_text(cats)
    assert_caught(df.validate_places(root), "categories_places365.txt", "indices must be 0, 1, 2")


def test_imagenet_c_planted_errors(world_copy, demo_world):
    c = world_copy("robustness") / "c"
    shutil.rmtree(c / "fog" / "3")
    shutil.rmtree(c / "snow")
    (c / "frost" / "2" / "n05000000").mkdir()
    (c / "blur_extra").mkdir()
    problems = df.validate_imagenet_c(c, demo_world["class_index"])
    assert_caught(problems, "fog/3", "severity 3 of fog missing")
    assert_caught(problems, "snow", "corruption snow missing")
    assert_caught(problems, "frost/2", "class folders differ")
    assert_caught(problems, "blur_extra", "not an ImageNet-C corruption")


def test_subset_index_planted_errors(world_copy, demo_world):
    rob = world_copy("robustness")
    index = demo_world["class_index"]
    indices = rob / "imagenet_a_indices.txt"
    assert only_errors(df.validate_subset_index(indices, index, rob / "a", rob / "imagenet_a_synsets.txt")) == []
    assert_caught(df.validate_subset_index([4, 1], index), "list", "strictly ascending")
    assert_caught(df.validate_subset_index([1, 60], index), "list", "out of range 0..5")
    indices.write_text("1\n3\n")  # class 4 dropped from the file, its folder still there
    problems = df.validate_subset_index(indices, index, rob / "a", rob / "imagenet_a_synsets.txt")
    assert_caught(problems, "n05000000", "not in the subset index")
    assert_caught(problems, "imagenet_a_synsets.txt", "wnids differ")


def test_sampling_keeps_default_checks_cheap_but_deep_checks_all(world_copy):
    root = world_copy("imagenet")
    victim = sorted((root / "val" / "n02000000").iterdir())[1]
    victim.write_bytes(b"not a jpeg")  # not the first image of its class: only deep=True opens it
    assert only_errors(df.validate_imagefolder(root / "val")) == []
    assert_caught(df.validate_imagefolder(root / "val", deep=True), victim.name, "not a readable image")
