"""Robustness: mCE arithmetic, the 200-class logit masks and their checks, and a run on the demo world."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from classification.evaluate import ClassificationMetric
from classification.imagenet import imagenet_classes
from classification.model import build_net
from classification.robustness import ALEXNET_ERR, CORRUPTIONS, evaluate_all_and_record, mce, subset_indices
from mae_backbone.checkpoint import save_backbone
from mae_backbone.errors import BadInputError
from mae_backbone.factory import architecture_of


def test_alexnet_itself_has_mce_100():
    errors = {c: {s: e for s in range(1, 6)} for c, e in ALEXNET_ERR.items()}
    out = mce(errors)
    assert out["mCE"] == pytest.approx(100.0)
    assert out["mean_error_unnormalized"] == pytest.approx(100 * sum(ALEXNET_ERR.values()) / 15)


def test_mce_of_a_hand_checked_table():
    # every corruption at half AlexNet's error except gaussian_noise, whose severities are 0.1..0.5:
    # CE = 50 for 14 corruptions; gaussian: mean err 0.3 / 0.886428 = 33.8437...; mCE = (14*50 + 33.8437)/15
    errors = {c: {s: ALEXNET_ERR[c] / 2 for s in range(1, 6)} for c in CORRUPTIONS}
    errors["gaussian_noise"] = {s: s / 10 for s in range(1, 6)}
    out = mce(errors)
    assert out["CE"]["gaussian_noise"] == pytest.approx(100 * 0.3 / 0.886428)
    assert out["mCE"] == pytest.approx((14 * 50 + 33.84415) / 15, abs=1e-4)
    assert out["error_by_severity"]["gaussian_noise"]["5"] == pytest.approx(50.0)
    del errors["fog"][3]
    with pytest.raises(BadInputError, match="fog"):
        mce(errors)


def test_official_200_class_lists_and_masking():
    classes = imagenet_classes()
    a, r = subset_indices("a", classes, None), subset_indices("r", classes, None)
    assert len(a) == len(r) == 200
    assert a[:5] == [6, 11, 13, 15, 17] and r[:5] == [1, 2, 4, 6, 8] and r[-1] == 988  # anchors.md 4.2
    # the 1000-way argmax is a class outside the subset; within the 200 the right class wins
    logits = torch.full((2, 1000), -5.0)
    logits[:, 0] = 10.0  # index 0 (tench) is not in IN-A
    logits[0, a[3]], logits[1, a[7]] = 3.0, 4.0
    metric = ClassificationMetric([classes[i] for i in a], valid_indices=a)
    metric.process(None, [{"logits": logits, "label": torch.tensor([3, 7]), "index": torch.tensor([0, 1])}])
    metric.evaluate(2)
    assert metric.last["top1"] == 100.0


def test_local_index_files_are_checked(tmp_path, demo_world):
    classes = demo_world["wnids"]
    root = Path(demo_world["robustness"])
    assert subset_indices("a", classes, root) == sorted(demo_world["a_classes"])
    (tmp_path / "imagenet_a_indices.txt").write_text("3\n1\n")
    with pytest.raises(BadInputError, match="ascending"):
        subset_indices("a", classes, tmp_path)
    with pytest.raises(BadInputError, match="imagenet_r_indices.txt: missing"):
        subset_indices("r", classes, tmp_path)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, demo_world):
    """A (random) 6-class classifier at the demo images' 128 px, exported as `maebench finetune` does."""
    torch.manual_seed(0)
    net, _ = build_net("finetune", "vit_mini_patch16", 6, dict(img_size=128, embed_dim=64, depth=4, num_heads=2))
    meta = dict(
        arch_name="vit_mini_patch16",
        architecture=architecture_of(net),
        img_size=128,
        protocol="finetune",
        global_pool="avg",
        num_classes=6,
        classes=demo_world["wnids"],
        kind="classifier",
    )
    return save_backbone(tmp_path_factory.mktemp("cls") / "classifier.safetensors", net.state_dict(), meta)


def test_robustness_on_the_demo_world(classifier, demo_world, tmp_path):
    root = Path(demo_world["robustness"])
    sets = {k: root / k for k in ("a", "r", "sketch", "c")}
    metrics = evaluate_all_and_record(str(classifier), sets, tmp_path, root, batch_size=32)
    assert metrics["in_a_num_samples"] == 2 * len(demo_world["a_classes"])
    record = json.loads((tmp_path / "metrics.json").read_text())
    m = record["metrics"]
    assert set(m["in_c_ce"]) == set(CORRUPTIONS) and 0 <= m["in_c_mean_error_unnormalized"] <= 100
    assert m["in_c_mce"] == pytest.approx(sum(m["in_c_ce"].values()) / 15)
    assert record["protocol"]["label_space"]["a"].startswith("200-class logit mask")
    assert record["protocol"]["transform"]["c"].startswith("none")
    table = (tmp_path / "robustness_table.md").read_text()  # the IN-C breakdown (Table 13 is the report's)
    assert f"mCE (AlexNet-normalised) {m['in_c_mce']:.2f}" in table and table.count("| gaussian_noise |") == 1


def test_dataset_folders_must_match_the_subset(classifier, demo_world, tmp_path):
    a = tmp_path / "a"
    shutil.copytree(Path(demo_world["robustness"]) / "a", a)
    wnids = demo_world["wnids"]
    extra = next(w for i, w in enumerate(wnids) if i not in demo_world["a_classes"])
    shutil.copytree(a / wnids[demo_world["a_classes"][0]], a / extra)
    with pytest.raises(BadInputError, match=extra):
        evaluate_all_and_record(str(classifier), {"a": a}, tmp_path / "out", Path(demo_world["robustness"]))
    assert not (tmp_path / "out" / "metrics.json").exists()


def _normalised(img):
    from torchvision import transforms as T

    from mae_backbone.images import IMAGENET_MEAN, IMAGENET_STD

    return T.Normalize(IMAGENET_MEAN, IMAGENET_STD)(T.ToTensor()(img))


def _photo(w: int, h: int):
    import numpy as np
    from PIL import Image

    return Image.fromarray(np.random.default_rng(0).integers(0, 256, size=(h, w, 3), dtype=np.uint8))


def test_in_c_is_upsampled_bicubically_to_a_larger_input():
    """ViT-H448's IN-C column: the 224 px images are resized up to 448 with PIL's bicubic, nothing cropped."""
    from PIL import Image

    from classification.transforms import ExactSize

    img = _photo(224, 224)
    torch.testing.assert_close(
        ExactSize(448, upsample="bicubic")(img), _normalised(img.resize((448, 448), Image.BICUBIC)), rtol=0, atol=0
    )
    torch.testing.assert_close(ExactSize(224, upsample="bicubic")(img), _normalised(img), rtol=0, atol=0)
    for view, bad in (
        (ExactSize(448), img),
        (ExactSize(448, "bicubic"), _photo(300, 224)),
        (ExactSize(112, "bicubic"), img),
    ):  # not asked / not square / would shrink
        with pytest.raises(BadInputError, match="IN-C images are evaluated without resize or crop"):
            view(bad)


def test_in_c_at_twice_the_released_size_runs_and_says_so(classifier, demo_world, tmp_path):
    c = Path(demo_world["robustness"]) / "c"  # 128 px demo images, evaluated at 256 as IN-C at 448
    metrics = evaluate_all_and_record(str(classifier), {"c": c}, tmp_path, None, img_size=256, batch_size=50)
    from tools.report.stats import load_outcomes  # the mCE's per-image shares recompute it

    assert load_outcomes(tmp_path, "in_c_mce").value() == pytest.approx(metrics["in_c_mce"])
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["protocol"]["input_size"] == 256 and record["protocol"]["c_upsample"] == "bicubic"
    assert record["protocol"]["transform"]["c"] == "bicubic upsampling 128 -> 256 px (PIL), no crop"
    assert 0 < metrics["in_c_mce"]
    with pytest.raises(BadInputError, match="c_upsample=None refuses resizing"):
        evaluate_all_and_record(str(classifier), {"c": c}, tmp_path / "no", None, img_size=256, c_upsample=None)
    assert not (tmp_path / "no" / "metrics.json").exists()


def test_a_r_sketch_resize_interpolation_is_a_named_option(classifier, demo_world, tmp_path):
    """bilinear = hendrycks' eval.py (Resize(256) + CenterCrop(224)); bicubic stays the default (MAE's)."""
    from torchvision import transforms as T

    from classification.transforms import eval_transform

    img = _photo(300, 240)
    hendrycks = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BILINEAR), T.CenterCrop(224)])
    torch.testing.assert_close(
        eval_transform(224, interpolation="bilinear")(img), _normalised(hendrycks(img)), rtol=0, atol=0
    )
    assert not torch.equal(eval_transform(224)(img), eval_transform(224, interpolation="bilinear")(img))
    sketch = {"sketch": Path(demo_world["robustness"]) / "sketch"}
    evaluate_all_and_record(str(classifier), sketch, tmp_path / "bl", None, batch_size=32, interpolation="bilinear")
    proto = json.loads((tmp_path / "bl" / "metrics.json").read_text())["protocol"]
    assert proto["interpolation"].startswith("bilinear (hendrycks") and "bilinear" in proto["transform"]["a/r/sketch"]
    evaluate_all_and_record(str(classifier), sketch, tmp_path / "bc", None, batch_size=32)
    proto = json.loads((tmp_path / "bc" / "metrics.json").read_text())["protocol"]
    assert proto["interpolation"].startswith("bicubic (MAE") and "bicubic" in proto["transform"]["a/r/sketch"]
    from mae_backbone.errors import ConfigError

    with pytest.raises(ConfigError, match="bicubic or bilinear"):
        evaluate_all_and_record(str(classifier), sketch, tmp_path / "x", None, interpolation="nearest")


def test_robustness_saves_outcomes_the_report_reads(classifier, demo_world, tmp_path):
    from tools.report.stats import load_outcomes

    root = Path(demo_world["robustness"])
    metrics = evaluate_all_and_record(
        str(classifier), {k: root / k for k in ("a", "r", "sketch")}, tmp_path, root, batch_size=32
    )
    for key in ("a", "r", "sketch"):
        o = load_outcomes(tmp_path, f"in_{key}_top1")
        assert o.n == metrics[f"in_{key}_num_samples"] and o.value() == pytest.approx(metrics[f"in_{key}_top1"])
