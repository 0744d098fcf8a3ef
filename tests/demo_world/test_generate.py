"""The generator: counts, determinism, caching, safety of --out, and the scene invariants labels rely on."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mae_backbone.errors import BadInputError
from tools.cli import main as cli_main
from tools.demo_world import DIFFICULTY, PARTIAL, STAMP, _prepare, generate, generate_cached
from tools.demo_world.corruptions import CORRUPTIONS, corrupt_one_level
from tools.demo_world.formats import WNIDS, rng_for, write_pretrain
from tools.demo_world.scenes import SHAPES, TEXTURES, make_scene


def hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_summary_counts_match_the_files(demo_world):
    root, n = Path(demo_world["root"]), demo_world["counts"]
    assert len(list((root / "pretrain").glob("*.jpg"))) == n["pretrain"]
    for split in ("train", "val"):
        assert len(list((root / "imagenet" / split).glob("n*/*.JPEG"))) == n["imagenet"][split]
        coco = json.loads((root / "coco" / "annotations" / f"instances_{split}2017.json").read_text())
        assert len(coco["images"]) == n["coco"][split]
        inat = json.loads((root / "inat" / f"{split}2019.json").read_text())
        assert len(inat["images"]) == n["inat"][split]
    for split in ("training", "validation"):
        assert len(list(Path(demo_world["ade"], "images", split).glob("*.jpg"))) == n["ade"][split]
    assert len((root / "places" / "places365_val.txt").read_text().split("\n")) - 1 == n["places"]["val"]
    for name in ("a", "r", "sketch"):
        assert len(list((root / "robustness" / name).glob("n*/*.jpg"))) == n["robustness"][name]
    assert len(list(Path(demo_world["imagenet_c"]).glob("*/*/n*/*.jpg"))) == n["robustness"]["c"]
    for key in (
        "pretrain",
        "imagenet",
        "coco",
        "ade",
        "inat",
        "places",
        "robustness",
        "imagenet_c",
        "class_index",
        "a_indices",
        "a_synsets",
        "r_indices",
        "r_synsets",
        "ade_meta",
    ):
        assert Path(demo_world[key]).exists(), key
    readme = (root / "README.md").read_text()
    for folder in (
        "pretrain/",
        "imagenet/",
        "coco/",
        "ade/ADEChallengeData2016/",
        "inat/",
        "places/",
        "robustness/c/",
        "glass_blur",
    ):
        assert folder in readme


def test_same_seed_same_bytes_in_another_folder_with_worker_processes(demo_world, tmp_path):
    info = generate(tmp_path / "again", seed=0, size="tiny", workers=2)  # the fixture's world ran serially
    first, second = hashes(Path(demo_world["root"])), hashes(Path(info["root"]))
    assert len(first) > 300 and first == second


def test_other_seed_other_images(demo_world, tmp_path):
    write_pretrain(tmp_path / "s0", 2, seed=0, size=128, difficulty=DIFFICULTY)
    write_pretrain(tmp_path / "s1", 2, seed=1, size=128, difficulty=DIFFICULTY)
    ours = Path(demo_world["pretrain"]) / "img_00000.jpg"
    assert (tmp_path / "s0" / "img_00000.jpg").read_bytes() == ours.read_bytes()
    assert (tmp_path / "s1" / "img_00000.jpg").read_bytes() != ours.read_bytes()


def test_corrupting_leaves_the_global_rng_and_skimage_alone(demo_world, tmp_path):
    import imagecorruptions.corruptions as ic
    import skimage.util

    before = (ic.gaussian, skimage.util.random_noise)
    np.random.seed(5)
    state = np.random.get_state()
    k = CORRUPTIONS.index("impulse_noise")  # the one that draws from scikit-image's RNG
    assert corrupt_one_level(str(tmp_path), 0, 128, 1, (0, 1), k, 3) == 2
    assert np.array_equal(np.random.get_state()[1], state[1])
    assert (ic.gaussian, skimage.util.random_noise) == before
    for f in (tmp_path / "impulse_noise" / "3").rglob("*.jpg"):
        assert f.read_bytes() == (Path(demo_world["imagenet_c"]) / f.relative_to(tmp_path)).read_bytes()


def test_imagenet_c_tree_is_complete_jpeg_85_and_not_resized(demo_world):
    root = Path(demo_world["imagenet_c"])
    assert sorted(p.name for p in root.iterdir()) == sorted(CORRUPTIONS)
    reference = Path(demo_world["root"]) / "ref85.jpg"
    Image.new("RGB", (128, 128)).save(reference, quality=85)
    with Image.open(reference) as im:
        q85 = im.quantization
    reference.unlink()
    for corruption in CORRUPTIONS:
        assert sorted(p.name for p in (root / corruption).iterdir()) == ["1", "2", "3", "4", "5"]
        for sev in "15":
            for f in (root / corruption / sev).glob("*/*.jpg"):
                with Image.open(f) as im:
                    assert im.format == "JPEG" and im.size == (128, 128) and im.quantization == q85


def test_generate_cached_returns_at_once(demo_world):
    start = time.perf_counter()
    info = generate_cached(demo_world["root"], size="tiny", seed=0)
    assert time.perf_counter() - start < 1.0
    assert info == {k: v for k, v in demo_world.items() if k not in ("seconds", "files")}
    root = Path(demo_world["root"])
    assert json.loads((root / STAMP).read_text()) == {
        "size": "tiny",
        "seed": 0,
        "image_size": 128,
        "difficulty": DIFFICULTY,
        "version": info["version"],
    }
    assert not (root / PARTIAL).exists()


def test_refuses_a_folder_that_is_not_a_demo_world(tmp_path):
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(BadInputError, match="not empty"):
        generate(tmp_path, size="tiny")
    assert (tmp_path / "thesis.tex").read_text() == "precious"


def test_an_interrupted_world_is_cleared_before_regenerating(tmp_path):
    (tmp_path / "coco" / "train2017").mkdir(parents=True)
    (tmp_path / "coco" / "train2017" / "stale.jpg").write_bytes(b"x")
    (tmp_path / PARTIAL).touch()
    _prepare(tmp_path)
    assert not (tmp_path / "coco").exists()


@pytest.mark.parametrize("kwargs", [dict(size="huge"), dict(image_size=16), dict(difficulty=1.5)])
def test_bad_parameters_are_refused(tmp_path, kwargs):
    with pytest.raises(ValueError):
        generate(tmp_path, **{"size": "tiny", **kwargs})


def test_cli_rejects_bad_difficulty(tmp_path, capsys):
    assert cli_main(["demo-data", "--out", str(tmp_path / "w"), "--difficulty", "3"]) == 2
    assert "--difficulty" in capsys.readouterr().err


@pytest.mark.parametrize("difficulty", [0.0, 0.5, 1.0])
def test_main_shape_is_the_largest_visible_object(difficulty):
    for i in range(60):
        scene = make_scene(rng_for(7, "imagenet", 0, i), 128, difficulty, main_shape=i % len(SHAPES))
        main, others = scene.instances[0], scene.instances[1:]
        assert main.shape == scene.main_shape == i % len(SHAPES)
        assert all(main.mask.sum() >= 1.5 * o.mask.sum() for o in others)
        masks = np.stack([inst.mask for inst in scene.instances])
        assert masks.sum(0).max() <= 1  # visible parts never overlap
        sem = scene.semantic()
        assert set(np.unique(sem)) <= set(range(1 + len(SHAPES) + len(TEXTURES)))
        assert (sem == 1 + len(SHAPES) + scene.texture).any()  # the background is its texture's stuff class
        if scene.other is not None:
            assert (sem == 0).any()


@pytest.mark.parametrize("difficulty", [0.0, 0.5, 1.0])
def test_object_centric_scenes_keep_the_main_shape_near_the_centre(difficulty):
    jitter = (0.05 + 0.15 * difficulty) * 128
    for i in range(30):
        scene = make_scene(
            rng_for(5, "imagenet", 0, i), 128, difficulty, main_shape=i % len(SHAPES), object_centric=True
        )
        ys, xs = np.nonzero(scene.instances[0].mask)
        # the visible part's box centre: occluders may shift it, never by more than a shape radius
        centre = np.array([(xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2])
        assert np.all(np.abs(centre - 64) <= jitter + 0.34 * 128 * (0.3 + 0.3 * difficulty) + 1)


def test_the_main_shape_stands_out_in_brightness():
    """At difficulty 0 the main shape is >= 100 grey levels brighter or darker than the background under it;
    measured against the ring of background just outside it (noise and gradients blur that a little)."""
    from scipy import ndimage

    luma = np.array([0.299, 0.587, 0.114])
    gaps = []
    for i in range(40):
        scene = make_scene(rng_for(9, "imagenet", 0, i), 128, 0.0, main_shape=i % len(SHAPES), object_centric=True)
        mask = scene.instances[0].mask
        ring = ndimage.binary_dilation(mask, iterations=3) & ~mask
        if scene.other is not None:
            ring &= ~ndimage.binary_dilation(scene.other, iterations=3)
        img = scene.image.astype(np.float64) @ luma
        gaps.append(abs(img[mask].mean() - img[ring].mean()))
    assert min(gaps) >= 60 and np.median(gaps) >= 100


def test_scene_centric_scenes_show_the_background_in_full_contrast_behind_a_small_object():
    """Places-style scenes: the label is the background texture, so it is drawn between two colours at least
    SCENE_MIN_LUMA apart in brightness and the object covers less of the frame than in the other formats."""
    from tools.demo_world.scenes import _LUMA, SCENE_MIN_LUMA

    def stats(scene_centric: bool) -> tuple[float, float]:
        spreads, areas = [], []
        for i in range(30):
            scene = make_scene(
                rng_for(4, "places", 0, i), 128, DIFFICULTY, texture=i % len(TEXTURES), scene_centric=scene_centric
            )
            back = ~scene.instances[0].mask
            luma = scene.image.astype(np.float64) @ _LUMA
            lo, hi = np.percentile(luma[back], [5, 95])
            spreads.append(hi - lo)
            areas.append(scene.instances[0].mask.mean())
        return float(np.median(spreads)), float(np.mean(areas))

    (spread, area), (spread_default, area_default) = stats(True), stats(False)
    assert spread >= SCENE_MIN_LUMA > spread_default  # gradients/blobs span the gap, noise adds to it
    assert area < 0.5 * area_default


def test_difficulty_adds_distractors():
    def mean_distractors(d: float) -> float:
        return np.mean([len(make_scene(rng_for(3, "coco", 0, i), 128, d).instances) - 1 for i in range(60)])

    assert mean_distractors(0.0) == 0 < mean_distractors(0.5) < mean_distractors(1.0)


def test_wnids_look_like_wordnet_ids_in_index_order(demo_world):
    index = json.loads(Path(demo_world["class_index"]).read_text())
    assert [index[str(i)] for i in range(len(index))] == [[w, s] for w, s in zip(WNIDS, SHAPES)]
    assert list(WNIDS) == sorted(WNIDS) and all(len(w) == 9 and w[0] == "n" and w[1:].isdigit() for w in WNIDS)
