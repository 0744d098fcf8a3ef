"""ADE20K data on the demo world: the label reduction (once), and bad inputs named with their file."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS
from PIL import Image

from mae_backbone.errors import BadInputError
from segmentation.build import dataset_cfg, pipelines
from segmentation.data import resolve_classes, validate_split

from .conftest import seg_cfg


@pytest.fixture
def ade_copy(ade_root, tmp_path):
    """A private copy of the demo world's ADE20K tree, to break."""
    return shutil.copytree(ade_root, tmp_path / "ADEChallengeData2016")


def test_label_reduction_happens_exactly_once(ade_root, tmp_path):
    cfg = seg_cfg(ade_root, tmp_path)
    classes = resolve_classes(ade_root, 11, None)
    assert classes == json.loads((ade_root / "maebench_classes.json").read_text())["classes"]
    _, test_pipe = pipelines(cfg)
    with DefaultScope.overwrite_default_scope("mmseg"):
        dataset = DATASETS.build(dataset_cfg(cfg, "val", classes, test_pipe))
    assert len(dataset) == len(list((ade_root / "annotations" / "validation").glob("*.png")))
    seen_zero = False
    for i in range(len(dataset)):
        sample = dataset[i]["data_samples"]
        raw = np.asarray(Image.open(sample.seg_map_path)).astype(np.int64)
        got = sample.gt_sem_seg.data[0].numpy().astype(np.int64)
        expected = np.where(raw == 0, 255, raw - 1)  # 0 = other -> ignore; 1..K -> 0..K-1
        np.testing.assert_array_equal(got, expected)
        assert set(np.unique(got)) <= set(range(11)) | {255}
        seen_zero |= bool((raw == 0).any())
    assert seen_zero, "the demo world should contain ignored ('other') pixels"


def test_validation_accepts_the_demo_world(ade_root):
    assert validate_split(ade_root, "train", 11) > 0
    assert validate_split(ade_root, "val", 11) > 0


def test_label_outside_the_class_count(ade_copy):
    ann = sorted((ade_copy / "annotations" / "training").glob("*.png"))[3]
    labels = np.asarray(Image.open(ann)).copy()
    labels[0, 0] = 12  # K = 11
    Image.fromarray(labels).save(ann)
    with pytest.raises(BadInputError, match=rf"{ann.name}.*\[12\].*num_classes=11"):
        validate_split(ade_copy, "train", 11)


def test_class_count_that_disagrees_with_the_dataset(ade_copy):
    with pytest.raises(BadInputError, match="maebench_classes.json.*11 classes.*num_classes=10"):
        resolve_classes(ade_copy, 10, None)
    (ade_copy / "maebench_classes.json").unlink()  # the real release: the count is checked on the labels
    with pytest.raises(BadInputError, match=r"label values \[11\] outside 0\.\.10"):
        validate_split(ade_copy, "val", 10)


def test_image_without_annotation_and_mismatched_pair(ade_copy):
    anns = sorted((ade_copy / "annotations" / "validation").glob("*.png"))
    anns[0].unlink()
    with pytest.raises(BadInputError, match=rf"{anns[0].stem}\.jpg: no annotation"):
        validate_split(ade_copy, "val", 11)
    Image.new("L", (40, 30)).save(anns[0])  # an annotation that belongs to some other image
    with pytest.raises(BadInputError, match=rf"{anns[0].name}: 40x30 but its image"):
        validate_split(ade_copy, "val", 11)


def test_wrong_root(tmp_path):
    with pytest.raises(BadInputError, match="no such folder"):
        resolve_classes(tmp_path / "nothing", 150, None)
    with pytest.raises(BadInputError, match="ADEChallengeData2016"):
        validate_split(tmp_path, "train", 11)
