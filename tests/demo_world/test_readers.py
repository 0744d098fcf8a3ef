"""Every format goes through the real reader of its dataset: pycocotools, mmseg, torchvision."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tools.demo_world.coco import mask_to_polygons, uncompressed_rle
from tools.demo_world.corruptions import CORRUPTIONS, load_corrupt, skimage_compat


def _coco(demo_world, split: str):
    from pycocotools.coco import COCO

    return COCO(str(Path(demo_world["coco"]) / "annotations" / f"instances_{split}2017.json"))


@pytest.mark.parametrize("split", ["train", "val"])
@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_coco_ground_truth_as_predictions_scores_ap_1(demo_world, split, iou_type):
    from pycocotools import mask as mask_utils
    from pycocotools.cocoeval import COCOeval

    gt = _coco(demo_world, split)
    results = []
    for ann in gt.dataset["annotations"]:
        res = {"image_id": ann["image_id"], "category_id": ann["category_id"], "score": 1.0}
        if iou_type == "bbox":
            res["bbox"] = ann["bbox"]
        else:
            rle = mask_utils.encode(np.asfortranarray(gt.annToMask(ann)))
            res["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode()}
        results.append(res)
    ev = COCOeval(gt, gt.loadRes(results), iou_type)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0) and ev.stats[1] == pytest.approx(1.0)


def test_coco_annotations_follow_coco_conventions(demo_world):
    from pycocotools import mask as mask_utils

    crowd = 0
    for split in ("train", "val"):
        gt = _coco(demo_world, split)
        cats = gt.dataset["categories"]
        ids = [c["id"] for c in cats]
        assert ids != list(range(1, len(ids) + 1)) and all(1 <= i <= 90 for i in ids)  # non-contiguous, like COCO
        assert all(c["supercategory"] for c in cats)
        assert {a["category_id"] for a in gt.dataset["annotations"]} == set(ids)  # every class in every split
        for img_id in gt.getImgIds():
            anns = gt.loadAnns(gt.getAnnIds(imgIds=img_id))
            masks = [gt.annToMask(a).astype(bool) for a in anns]
            for ann, mask in zip(anns, masks):
                if ann["iscrowd"]:
                    crowd += 1
                    assert isinstance(ann["segmentation"], dict) and isinstance(ann["segmentation"]["counts"], list)
                else:
                    assert isinstance(ann["segmentation"], list) and all(len(p) >= 6 for p in ann["segmentation"])
                assert ann["area"] == mask.sum()
                rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
                assert ann["bbox"] == pytest.approx(mask_utils.toBbox(rle).tolist())
            if masks:
                assert np.stack(masks).sum(0).max() <= 1  # instances never claim the same pixel
    assert crowd > 0


def test_polygons_rasterise_back_to_the_exact_mask_holes_included():
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    for _ in range(20):
        cx, cy, r = *rng.uniform(20, 44, 2), rng.uniform(8, 18)
        disk = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        hole = (xx - cx) ** 2 + (yy - cy) ** 2 <= (r * rng.uniform(0.3, 0.6)) ** 2
        mask = disk & ~hole  # a ring: needs a keyhole cut
        mask[rng.integers(0, 64, 40), rng.integers(0, 64, 40)] = True  # plus specks: separate polygons
        polys = mask_to_polygons(mask)
        decoded = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polys, 64, 64))).astype(bool)
        assert np.array_equal(decoded, mask)
        rle = mask_utils.frPyObjects(uncompressed_rle(mask), 64, 64)
        assert np.array_equal(mask_utils.decode(rle).astype(bool), mask)


def test_ade_through_mmseg_reduce_zero_label(demo_world):
    from mmseg.datasets import ADE20KDataset
    from mmseg.utils import register_all_modules

    register_all_modules()

    class AnyClassesADE(ADE20KDataset):  # ADE20KDataset only accepts subsets of its 150 names
        METAINFO: dict = {}

    meta = json.loads(Path(demo_world["ade_meta"]).read_text())
    k = demo_world["ade_num_classes"]
    assert len(meta["classes"]) == len(meta["palette"]) == k
    seen: set[int] = set()
    for split in ("training", "validation"):
        ds = AnyClassesADE(
            data_root=demo_world["ade"],
            metainfo=dict(classes=tuple(meta["classes"]), palette=meta["palette"]),
            data_prefix=dict(img_path=f"images/{split}", seg_map_path=f"annotations/{split}"),
            pipeline=[dict(type="LoadImageFromFile"), dict(type="LoadAnnotations")],
        )
        # LoadAnnotations takes reduce_zero_label from the dataset (ADE20KDataset's default: True)
        assert ds.reduce_zero_label and len(ds) == demo_world["counts"]["ade"][split]
        for i in range(len(ds)):
            item = ds[i]
            raw = np.asarray(Image.open(item["seg_map_path"])).astype(np.int64)
            assert np.array_equal(item["gt_seg_map"], np.where(raw == 0, 255, raw - 1))
            assert item["gt_seg_map"].shape == item["img"].shape[:2]
            seen |= set(np.unique(item["gt_seg_map"]).tolist())
    assert seen <= set(range(k)) | {255}
    assert 255 in seen and len(seen - {255}) >= k - 2  # "other" pixels exist; nearly every class appears


@pytest.mark.parametrize("tree", ["imagenet/train", "imagenet/val", "robustness/sketch"])
def test_imagefolder_labels_equal_the_class_index(demo_world, tree):
    from torchvision.datasets import ImageFolder

    index = json.loads(Path(demo_world["class_index"]).read_text())
    ds = ImageFolder(str(Path(demo_world["root"]) / tree))
    assert ds.class_to_idx == {wnid: int(i) for i, (wnid, _name) in index.items()}
    assert all(Path(path).parent.name == index[str(label)][0] for path, label in ds.samples)


@pytest.mark.parametrize("name", ["a", "r"])
def test_subset_indices_select_exactly_the_subset_folders(demo_world, name):
    from torchvision.datasets import ImageFolder

    index = json.loads(Path(demo_world["class_index"]).read_text())
    indices = [int(x) for x in Path(demo_world[f"{name}_indices"]).read_text().split()]
    assert indices == sorted(set(indices)) and len(indices) < len(index)
    ds = ImageFolder(str(Path(demo_world["robustness"]) / name))
    assert ds.classes == [index[str(i)][0] for i in indices]  # local label j <-> 1k-space index indices[j]
    assert Path(demo_world[f"{name}_synsets"]).read_text().split() == ds.classes


def test_inat_2019_json_reads_as_classification(demo_world):
    root = Path(demo_world["inat"])
    for split in ("train", "val"):
        data = json.loads((root / f"{split}2019.json").read_text())
        cats = data["categories"]
        assert [c["id"] for c in cats] == list(range(len(demo_world["classes"])))
        assert all({"kingdom", "phylum", "class", "order", "family", "genus", "name"} <= set(c) for c in cats)
        label = {a["image_id"]: a["category_id"] for a in data["annotations"]}
        assert len(label) == len(data["annotations"]) == len(data["images"])
        for img in data["images"]:
            parts = img["file_name"].split("/")
            assert parts[0] == "train_val2019" and int(parts[2]) == label[img["id"]]
            assert (root / img["file_name"]).is_file()


def test_places_lists_read_with_their_categories(demo_world):
    root = Path(demo_world["places"])
    names = [line.split()[0] for line in (root / "categories_places365.txt").read_text().splitlines()]
    assert [n.rsplit("/", 1)[1] for n in names] == demo_world["scenes"]
    for list_name, folder in (("places365_train_standard.txt", "data_256"), ("places365_val.txt", "val_256")):
        for line in (root / list_name).read_text().splitlines():
            path, label = line.rsplit(" ", 1)
            assert (root / folder / path.lstrip("/")).is_file()
            if folder == "data_256":
                assert path.startswith("/") and path.rsplit("/", 1)[0] == names[int(label)]


def test_every_benchmark_corruption_runs_on_the_installed_stack():
    corrupt = load_corrupt()
    img = (np.random.default_rng(0).random((48, 48, 3)) * 255).astype(np.uint8)
    state = np.random.get_state()
    with skimage_compat():
        for name in CORRUPTIONS:
            for severity in (1, 5):
                outs = []
                for _ in range(2):
                    np.random.seed(123)
                    outs.append(corrupt(img, corruption_name=name, severity=severity))
                assert outs[0].shape == img.shape and outs[0].dtype == np.uint8
                assert not np.array_equal(outs[0], img), name
                assert np.array_equal(outs[0], outs[1]), f"{name} is not reproducible under a seed"
    np.random.set_state(state)
