"""Low-shot subsets of the training split (data.fraction / data.shots / data.subset_file) on the tiny demo world:
class-balanced, reproducible for a seed, never the validation images, a given list honoured exactly, bad lists
refused naming the file and the image."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from classification.datasets import build_split
from classification.lowshot import SUBSET_LIST, low_shot_record
from mae_backbone.errors import BadInputError, ConfigError


def _data(demo_world, **low_shot):
    return dict(
        format="imagefolder",
        root=demo_world["imagenet"],
        fraction=None,
        shots=None,
        subset_file=None,
        subset_seed=0,
        **low_shot,
    )


def _split(demo_world, split="train", **low_shot):
    return build_split({**_data(demo_world), **low_shot}, split)


def test_subsets_are_class_balanced(demo_world):
    full = _split(demo_world)
    assert full.subset is None and Counter(full.labels) == {c: 6 for c in range(6)}  # 6 train images per class
    for how, per_class in ((dict(shots=2), 2), (dict(fraction=0.5), 3), (dict(fraction=0.01), 1)):
        sub = _split(demo_world, **how)
        assert Counter(sub.labels) == {c: per_class for c in range(6)}, how
        assert sub.classes == full.classes  # the class list (and so the label indices) never shrinks
        assert all(full.labels[full.files.index(f)] == y for f, y in zip(sub.files, sub.labels))
        assert sub.subset["num_images"] == 6 * per_class and sub.subset["per_class_min"] == per_class


def test_subsets_are_reproducible_for_a_seed_and_nested(demo_world):
    a, b = _split(demo_world, shots=3), _split(demo_world, shots=3)
    assert a.files == b.files and a.subset["sha256"] == b.subset["sha256"]
    other = _split(demo_world, shots=3, subset_seed=1)
    assert other.files != a.files and other.subset["sha256"] != a.subset["sha256"]
    small, large = _split(demo_world, shots=2), _split(demo_world, fraction=0.7)  # 2 and 4 per class
    assert set(small.files) < set(large.files)  # a seed's smaller subset lies inside its larger one


def test_subsets_exclude_validation_images(demo_world):
    val = _split(demo_world, "val", shots=1)
    assert val.subset is None and len(val.files) == 18  # the validation split is never subset
    for how in (dict(shots=6), dict(fraction=0.5)):
        sub = _split(demo_world, **how)
        assert not set(sub.files) & set(val.files)
        assert all(f.relative_to(demo_world["imagenet"]).parts[0] == "train" for f in sub.files)


def test_a_subset_file_is_honoured_exactly(demo_world, tmp_path):
    full = _split(demo_world)
    picked = [full.files[i] for i in (0, 7, 8, 20, 35)]
    root = Path(demo_world["imagenet"])
    lines = [
        "# a comment, then names as the published ImageNet lists give them, and relative paths",
        "",
        picked[0].name,
        picked[1].name,
        picked[2].relative_to(root).as_posix(),
        picked[3].relative_to(root / "train").as_posix(),
        picked[4].name + "  # trailing comment",
    ]
    listing = tmp_path / "subset.txt"
    listing.write_text("\n".join(lines) + "\n")
    sub = _split(demo_world, subset_file=str(listing))
    assert sub.files == picked and sub.labels == [full.labels[i] for i in (0, 7, 8, 20, 35)]
    assert sub.subset["mode"] == "file" and sub.subset["subset_file"] == str(listing)
    # the list a run writes reads back as the same subset, with the same digest
    chosen = _split(demo_world, fraction=0.5)
    record = low_shot_record(chosen, tmp_path / "work")
    written = tmp_path / "work" / SUBSET_LIST
    assert record["sha256"] == hashlib.sha256(written.read_bytes()).hexdigest() and record["list_file"] == SUBSET_LIST
    again = _split(demo_world, subset_file=str(written))
    assert again.files == chosen.files and again.subset["sha256"] == record["sha256"]
    assert low_shot_record(full, tmp_path / "work_full") is None and not (tmp_path / "work_full").exists()


def test_a_subset_file_naming_a_missing_image_is_refused(demo_world, tmp_path):
    full, val = _split(demo_world), _split(demo_world, "val")
    listing = tmp_path / "subset.txt"
    listing.write_text(f"{full.files[0].name}\nn01440764_99999.JPEG\n")
    absent = f"{listing}:2: n01440764_99999.JPEG is not an image of the training split"
    with pytest.raises(BadInputError, match=re.escape(absent)):
        _split(demo_world, subset_file=str(listing))
    listing.write_text(f"val/{val.files[0].relative_to(val.root / 'val').as_posix()}\n")  # a validation image
    with pytest.raises(BadInputError, match=re.escape(f"{listing}:1: val/")):
        _split(demo_world, subset_file=str(listing))
    listing.write_text(f"{full.files[0].name}\n{full.files[0].name}\n")
    with pytest.raises(BadInputError, match="listed twice"):
        _split(demo_world, subset_file=str(listing))
    with pytest.raises(BadInputError, match="no such file"):
        _split(demo_world, subset_file=str(tmp_path / "absent.txt"))


def test_bad_low_shot_settings_are_refused(demo_world):
    with pytest.raises(BadInputError, match="has 6 training images, fewer than data.shots=7"):
        _split(demo_world, shots=7)
    with pytest.raises(ConfigError, match="data.fraction and data.shots are both set"):
        _split(demo_world, fraction=0.1, shots=2)
    for bad in (0.0, 1.0, 10):
        with pytest.raises(ConfigError, match="data.fraction"):
            _split(demo_world, fraction=bad)
    with pytest.raises(ConfigError, match="data.shots"):
        _split(demo_world, shots=0)


def test_linear_probe_trains_on_the_subset(demo_world, tmp_path):
    """The recipes' own path: `data.shots` in a linprobe config changes what trains (and its fingerprint)."""
    from classification.run import run
    from tests.classification.helpers import tiny_cfg

    cfg = tiny_cfg("linprobe", demo_world, tmp_path / "lp", data=dict(shots=4, fraction=None, subset_file=None))
    cfg["data"]["batch_size"] = 8
    run(cfg)
    record = json.loads((tmp_path / "lp" / "metrics.json").read_text())
    assert record["protocol"]["dataset"]["train"]["num_files"] == 24  # 4 x 6 classes, not 36
    assert record["metrics"]["num_samples"] == 18  # the whole validation split
