"""Readers of the release formats on the demo world, and their refusals of bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from classification.datasets import LabelledImages, build_split, image_folder, inaturalist, places
from classification.transforms import ExactSize, eval_transform
from mae_backbone.errors import BadInputError


def test_imagefolder_follows_the_class_index(demo_world):
    split = image_folder(demo_world["imagenet"], "val")
    assert split.classes == demo_world["wnids"]  # from imagenet_class_index.json
    assert sorted(set(split.labels)) == list(range(len(demo_world["wnids"])))
    first = split.files[split.labels.index(2)]
    assert first.parent.name == demo_world["wnids"][2]
    item = LabelledImages(split, eval_transform(64))[5]
    assert tuple(item["inputs"].shape) == (3, 64, 64) and item["index"] == 5


def test_inat_and_places_use_the_official_splits(demo_world):
    tr = inaturalist(demo_world["inat"], 2019, "train")
    va = build_split(dict(format="inat", root=demo_world["inat"], year=2019), "val")
    assert tr.classes == va.classes and len(tr.classes) == len(demo_world["classes"])
    assert len(va.files) < len(tr.files) and not set(va.files) & set(tr.files)
    pl = places(demo_world["places"], 365, "val")
    assert len(pl.classes) == len(demo_world["scenes"]) and all(f.is_file() for f in pl.files)
    with pytest.raises(BadInputError, match="official splits"):
        inaturalist(demo_world["inat"], 2019, "test")


def test_inat_2021_reads_its_own_file_names_and_layout(demo_world, tmp_path):
    """2021 names its files train.json / val.json and keeps images under train/ and val/ (dataformats/inat.py)."""
    src = Path(demo_world["inat"])
    for split in ("train", "val"):
        data = json.loads((src / f"{split}2019.json").read_text())
        for c in data["categories"]:
            c.update(supercategory="Animalia", common_name=c["name"], image_dir_name=f"{c['id']:05d}_{c['name']}")
        dirs = {c["id"]: c["image_dir_name"] for c in data["categories"]}
        label = {a["image_id"]: a["category_id"] for a in data["annotations"]}
        for img in data["images"]:
            name = f"{split}/{dirs[label[img['id']]]}/{Path(img['file_name']).name}"
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src / img["file_name"], tmp_path / name)
            img["file_name"] = name
        (tmp_path / f"{split}.json").write_text(json.dumps(data))
    new = build_split(dict(format="inat", root=str(tmp_path), year=2021), "val")
    old = inaturalist(src, 2019, "val")
    assert new.labels == old.labels and new.classes == old.classes
    assert all(f.is_file() and f.parts[-3] == "val" for f in new.files)
    with pytest.raises(BadInputError, match="year 2020 unsupported"):
        inaturalist(tmp_path, 2020, "train")


def test_numeric_class_folders_sort_as_numbers(tmp_path, demo_world):
    src = Path(demo_world["imagenet"]) / "train" / demo_world["wnids"][0]
    for name in ("2", "10", "1"):
        shutil.copytree(src, tmp_path / "train" / name)
    assert image_folder(tmp_path, "train").classes == ["1", "2", "10"]


def test_folders_that_do_not_match_the_index_are_refused(tmp_path, demo_world):
    root = tmp_path / "imagenet"
    shutil.copytree(demo_world["imagenet"], root)
    (root / "val" / demo_world["wnids"][1]).rename(root / "val" / "n99999999")
    with pytest.raises(BadInputError, match="n99999999"):
        image_folder(root, "val")
    shutil.rmtree(root / "val" / "n99999999")
    with pytest.raises(BadInputError, match="have no folder"):
        image_folder(root, "val")


def test_labels_out_of_range_and_missing_files_name_the_file(tmp_path, demo_world):
    root = tmp_path / "places"
    shutil.copytree(demo_world["places"], root)
    lines = (root / "places365_val.txt").read_text().splitlines()
    (root / "places365_val.txt").write_text("\n".join(lines[:-1] + [lines[-1].split()[0] + " 365"]) + "\n")
    with pytest.raises(BadInputError, match="outside 0..4"):
        places(root, 365, "val")
    inat = tmp_path / "inat"
    shutil.copytree(demo_world["inat"], inat)
    ann = json.loads((inat / "val2019.json").read_text())
    (inat / ann["images"][0]["file_name"]).unlink()
    with pytest.raises(BadInputError, match="val2019.json: 1 listed images are missing"):
        inaturalist(inat, 2019, "val")


def test_corrupt_image_and_wrong_c_size_name_the_file(tmp_path, demo_world):
    root = tmp_path / "imagenet"
    shutil.copytree(demo_world["imagenet"], root)
    split = image_folder(root, "val")
    split.files[0].write_bytes(b"not a jpeg")
    with pytest.raises(BadInputError, match=split.files[0].name):
        LabelledImages(split, eval_transform(64))[0]
    with pytest.raises(BadInputError, match=rf"{split.files[1].name}.*without resize or crop"):
        LabelledImages(split, ExactSize(64))[1]  # 128 px demo images, a 64 px model


def test_flat_val_folder_is_refused(tmp_path, demo_world):
    src = next((Path(demo_world["imagenet"]) / "val" / demo_world["wnids"][0]).iterdir())
    (tmp_path / "val").mkdir()
    shutil.copy(src, tmp_path / "val" / "ILSVRC2012_val_00000001.JPEG")
    with pytest.raises(BadInputError, match="directly"):
        image_folder(tmp_path, "val")


def test_randaugment_posterize_at_full_magnitude_does_not_crash():
    from PIL import Image

    from classification.transforms import finetune_train_transform

    t = finetune_train_transform(64, dict(auto_augment="rand-m9-mstd0.5-inc1", reprob=0.25))
    op = next(op for tt in t.transforms for op in getattr(tt, "ops", ()) if op.name == "PosterizeIncreasing")
    op.prob, op.magnitude, op.magnitude_std = 1.0, 10, 0  # 0 bits kept: Pillow >= 11 would raise here
    assert op(Image.new("RGB", (64, 64), (200, 100, 50))).getpixel((0, 0)) == (0, 0, 0)


@pytest.mark.parametrize("protocol", ["finetune", "linprobe"])
def test_crop_scale_bounds_the_random_crop_area(protocol):
    """aug.crop_scale reaches the RandomResizedCrop of both recipes: every crop keeping >= 90% of the area
    shows part of an 8-px frame round the image; a third of the crops keeping 8-20% fall inside it."""
    import random

    import numpy as np
    import torch
    from PIL import Image

    from classification.transforms import train_transform

    img = np.zeros((64, 64, 3), np.uint8)
    img[:8], img[-8:], img[:, :8], img[:, -8:] = 255, 255, 255, 255
    pil = Image.fromarray(img)

    def frame_seen(scale) -> float:
        t = train_transform(protocol, 64, dict(crop_scale=scale, auto_augment=None, reprob=0.0))
        random.seed(0)  # torchvision's and timm's crops draw from torch and from `random`
        torch.manual_seed(0)
        return float(np.mean([(t(pil) > 1.0).any().item() for _ in range(100)]))

    assert frame_seen((0.9, 1.0)) == 1.0
    assert frame_seen((0.08, 0.2)) < 0.8  # measured 0.55-0.68 over seeds
