"""Bad COCO input: one clear message naming the file / annotation id and the fix, or, with --skip-bad, the
bad items dropped into a cleaned copy in the work dir and counted. The original files are never touched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mae_backbone.errors import BadInputError

pytest.importorskip("mmdet")


@pytest.fixture
def coco(demo_world, tmp_path) -> Path:
    root = tmp_path / "coco"
    shutil.copytree(demo_world["coco"], root)
    return root


def _edit(root: Path, split: str, fn) -> Path:
    path = root / "annotations" / f"instances_{split}.json"
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))
    return path


def _prepare(root: Path, tmp_path: Path, skip_bad: bool = False, num_classes: int = 6):
    from detection.data import prepare_split

    return prepare_split(root, "val2017", num_classes, skip_bad=skip_bad, work_dir=tmp_path / "work")


def test_clean_split_prepares(coco, tmp_path):
    split = _prepare(coco, tmp_path)
    assert split.ann_file == coco / "annotations" / "instances_val2017.json" and not split.skipped
    assert len(split.classes) == 6 and split.cat_ids != list(range(1, 7))  # the file's non-contiguous ids


def test_malformed_json(coco, tmp_path):
    path = coco / "annotations" / "instances_val2017.json"
    path.write_text(path.read_text()[:-40])
    with pytest.raises(BadInputError, match=rf"{path}: not valid JSON"):
        _prepare(coco, tmp_path, skip_bad=True)  # nothing to skip around in a truncated file


def test_category_count_disagrees_with_config(coco, tmp_path):
    with pytest.raises(
        BadInputError,
        match=r"instances_val2017.json: 6 categories.*data.num_classes=80.*"
        r"data.num_classes=6",
    ):
        _prepare(coco, tmp_path, num_classes=80)


def test_missing_image(coco, tmp_path):
    data = json.loads((coco / "annotations" / "instances_val2017.json").read_text())
    gone = data["images"][1]
    (coco / "val2017" / gone["file_name"]).unlink()
    with pytest.raises(BadInputError, match=rf"missing in {coco / 'val2017'}.*image ids {gone['id']}(.|\n)*--skip-bad"):
        _prepare(coco, tmp_path)
    split = _prepare(coco, tmp_path, skip_bad=True)
    n_anns = sum(a["image_id"] == gone["id"] for a in data["annotations"])
    assert split.skipped["images"] == 1 and split.skipped["annotations"] == n_anns
    assert split.num_images == len(data["images"]) - 1
    assert split.ann_file == tmp_path / "work" / "data" / "instances_val2017.json"
    assert json.loads((coco / "annotations" / "instances_val2017.json").read_text()) == data  # untouched


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("bbox", [500.0, 500.0, 10.0, 10.0], "lies outside"),
        ("segmentation", [[1.0, 2.0, 3.0, 4.0]], "polygon must be"),
    ],
)
def test_bad_annotation_named_then_skipped(coco, tmp_path, field, value, message):
    bad_id = {}

    def spoil(data):
        ann = next(a for a in data["annotations"] if not a["iscrowd"])
        ann[field] = value
        bad_id["id"] = ann["id"]

    _edit(coco, "val2017", spoil)
    with pytest.raises(BadInputError, match=rf"annotation {bad_id['id']}: .*{message}"):
        _prepare(coco, tmp_path)
    split = _prepare(coco, tmp_path, skip_bad=True)
    assert split.skipped["annotations"] == 1 and split.skipped["images"] == 0
    kept = json.loads(split.ann_file.read_text())["annotations"]
    assert bad_id["id"] not in {a["id"] for a in kept}


def test_cli_reports_bad_input_in_one_line(coco, tmp_path, capsys):
    from tools.cli import main

    (coco / "train2017" / sorted(p.name for p in (coco / "train2017").iterdir())[0]).unlink()
    work = tmp_path / "run"
    code = main(["detect", "--data", str(coco), "--work-dir", str(work)])
    err = capsys.readouterr().err
    assert code == 2
    assert "maebench detect: error:" in err and "instances_train2017.json" in err and "--skip-bad" in err
    assert not (work / "metrics.json").exists()
