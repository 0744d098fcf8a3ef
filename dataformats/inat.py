"""iNaturalist classification releases: COCO-like JSON (images, one annotation per image, categories)
with file names relative to the dataset root.

The years differ (see each competition's README at github.com/visipedia/inat_comp):
- 2017: `train2017.json`/`val2017.json`; categories {id, name, supercategory}; images under
  `train_val_images/<supercategory>/<species name>/`.
- 2018: `train2018.json`/`val2018.json`; categories add kingdom, phylum, class, order, family, genus
  (names obfuscated; `categories.json` has the real ones); images under `train_val2018/<super>/<id>/`.
- 2019: `train2019.json`/`val2019.json`; categories {id, name, kingdom..genus} without supercategory;
  images under `train_val2019/<super>/<id>/`.
- 2021: `train.json`/`val.json`; categories add supercategory, common_name, image_dir_name; images
  under `train/<image_dir_name>/` and `val/<image_dir_name>/`.
The reader uses `category_id` as the label, so ids must be the contiguous 0..N-1 they are in every year.
"""

from __future__ import annotations

from pathlib import Path

from .coco import has_coco_lists, valid_categories
from .problems import DEFAULT_SAMPLE, Problem, Report, check_files, load_json

TAXONOMY = ("kingdom", "phylum", "class", "order", "family", "genus")
YEARS = {
    2017: dict(files=("train2017.json", "val2017.json"), fields=("supercategory",), prefix=("train_val_images/",)),
    2018: dict(
        files=("train2018.json", "val2018.json"), fields=("supercategory",) + TAXONOMY, prefix=("train_val2018/",)
    ),
    2019: dict(files=("train2019.json", "val2019.json"), fields=TAXONOMY, prefix=("train_val2019/",)),
    2021: dict(files=("train.json", "val.json"), fields=("supercategory",) + TAXONOMY, prefix=("train/", "val/")),
}


def _validate_split(
    root: Path, json_path: Path, year: int, deep: bool, sample: int | None, report: Report
) -> list | None:
    data = load_json(json_path, report, f"the iNaturalist {year} annotation file")
    if data is None:
        return None
    where = str(json_path)
    if not has_coco_lists(
        data, where, report, "use the competition's train/val JSON (the test JSON has no annotations)"
    ):
        return None
    spec = YEARS[year]
    cats = {}
    for cid, c in valid_categories(data["categories"], where, report):
        missing = [f for f in spec["fields"] if f not in c]
        if missing:
            report.add(
                where,
                f"category {cid} lacks {', '.join(missing)} (present in every {year} category)",
                f"check year={year} matches the release, or add the taxonomy fields",
            )
        cats[cid] = c
    if sorted(cats) != list(range(len(cats))):
        report.add(
            where,
            f"category ids must be 0..{len(cats) - 1} (they are labels), got {sorted(cats)[:3]}..{sorted(cats)[-3:]}",
            "remap category ids to contiguous 0-based labels",
        )
    images, files = {}, []
    for img in data["images"]:
        iid = img.get("id") if isinstance(img, dict) else None
        if not isinstance(iid, int) or not isinstance(img.get("file_name"), str):
            report.add(
                where,
                f"image entry {str(img)[:80]} needs an integer 'id' and a string 'file_name'",
                "fix the images list",
            )
            continue
        if iid in images:
            report.add(where, f"image id {iid} appears twice", "give every image a unique id")
        images[iid] = img
        files.append(img["file_name"])
    bad_prefix = [f for f in files if not f.startswith(spec["prefix"])]
    if bad_prefix:
        report.warn(
            where,
            f"{len(bad_prefix)} file names do not start with {' or '.join(spec['prefix'])} as in "
            f"the {year} release, e.g. {bad_prefix[0]}",
            "check year= and the folder the paths are relative to",
        )
    labelled: dict[int, int] = {}
    for ann in data["annotations"]:
        iid = ann.get("image_id") if isinstance(ann, dict) else None
        if iid not in images:
            report.add(where, f"annotation {str(ann)[:60]}: image_id not in 'images'", "remove it or add its image")
            continue
        if ann.get("category_id") not in cats:
            report.add(
                where,
                f"annotation {ann.get('id')}: category_id {ann.get('category_id')!r} is not a "
                f"category (0..{len(cats) - 1})",
                "use a listed category id",
            )
        if iid in labelled:
            report.add(
                where,
                f"image {iid} has more than one annotation; classification needs exactly one",
                "keep one label per image",
            )
        labelled[iid] = ann.get("category_id")
    unlabelled = [i for i in images if i not in labelled]
    if unlabelled:
        report.add(
            where,
            f"{len(unlabelled)} images have no annotation, e.g. image {unlabelled[0]}",
            "annotate them or remove them from 'images'",
        )
    if files:
        check_files(root, files, report, deep, sample, what=json_path.name)
    return sorted((c["id"], c["name"]) for c in cats.values())


def validate_inat(
    root: str | Path, year: int = 2019, deep: bool = False, sample: int | None = DEFAULT_SAMPLE
) -> list[Problem]:
    """An iNaturalist root holding the year's train/val JSON files and the image folders they name.

    Checks every image and annotation entry; `sample` image files per split exist and 8 open unless
    deep=True, which checks and decodes every image."""
    root = Path(root)
    report = Report()
    if year not in YEARS:
        report.add(root, f"unknown iNaturalist year {year!r}", f"use one of {sorted(YEARS)}")
        return report.done()
    if not root.is_dir():
        report.add(root, "iNaturalist root not found", "pass the folder that holds the JSON files and images")
        return report.done()
    train, val = (_validate_split(root, root / f, year, deep, sample, report) for f in YEARS[year]["files"])
    if train is not None and val is not None and train != val:
        report.add(
            root / YEARS[year]["files"][1],
            "categories differ from the training file's",
            "use the train and val files of the same release",
        )
    return report.done()
