"""The README.md written into a demo world: what each folder is and which real dataset it stands for."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .formats import COCO_CAT_IDS, WNIDS
from .robustness import A_CLASSES, R_CLASSES
from .scenes import SHAPES, TEXTURES

TEMPLATE = """# maebench demo world ({size}, seed {seed}, {image_size} px)

Synthetic scenes: a main coloured shape ({shapes}) with smaller distractor shapes that may occlude it,
on a background from a texture family ({textures}). Each folder uses the release format of a real
dataset, so the suite reads it with the same loaders.

| folder | stands for | content |
|---|---|---|
| `pretrain/` | ImageNet train images, unlabeled | {pretrain} flat JPEGs |
| `imagenet/{{train,val}}/<wnid>/` | ImageNet-1K ImageFolder | class = main shape, {cls_train}/{cls_val} images per class; wnids {wnids}; `imagenet_class_index.json` in index order (sorted wnids, as ImageNet's) |
| `coco/` | COCO 2017 instances | `annotations/instances_{{train,val}}2017.json`, `{{train,val}}2017/`; {coco_train}/{coco_val} images; category ids {cat_ids} (non-contiguous); polygons, uncompressed RLE for rings (holes) and `iscrowd=1` regions; `area`/`bbox` from the encoded mask |
| `ade/ADEChallengeData2016/` | ADE20K (SceneParsing) | `images/{{training,validation}}/*.jpg`, `annotations/.../*.png`; 0 = other (ignored), 1..{n_shapes} = shapes, {n_shapes_1}..{k} = background textures as stuff; use `reduce_zero_label=True`; names in `maebench_classes.json` |
| `inat/` | iNaturalist 2019 | `train2019.json`/`val2019.json` (images, annotations, categories with kingdom..genus) and `train_val2019/Shapes/<category id>/` |
| `places/` | Places365-Standard | `places365_train_standard.txt`, `places365_val.txt` ("path label"), `categories_places365.txt`, images in `data_256/` and `val_256/`; scene = texture family |
| `robustness/a/`, `robustness/r/` | ImageNet-A / -R | classes {a_classes} / {r_classes} only (as the real ones are 200 of 1000), with `imagenet_{{a,r}}_indices.txt` (ascending indices into the class index) and `_synsets.txt`; A = hard cluttered scenes, R = sketch/cartoon renditions |
| `robustness/sketch/` | ImageNet-Sketch | all classes as line drawings |
| `robustness/c/<corruption>/<1..5>/<wnid>/` | ImageNet-C | the 15 benchmark corruptions of the `imagecorruptions` package × 5 severities, JPEG quality 85, not resized |

Other iNaturalist years: 2017 uses `train2017.json`/`val2017.json` with image folders
`train_val_images/<supercategory>/<species>/`; 2018 uses `train2018.json`/`val2018.json` and a separate
`categories.json`, images under `train_val2018/<supercategory>/<id>/`. Places205 ships `train.txt`/`val.txt`
file lists of the same "path label" form.
"""


def write_readme(root: Path, size: str, seed: int, image_size: int, spec: dict[str, Any]) -> None:
    text = TEMPLATE.format(
        size=size, seed=seed, image_size=image_size, shapes=", ".join(SHAPES), textures=", ".join(TEXTURES),
        pretrain=spec["pretrain"], cls_train=spec["cls"]["train"], cls_val=spec["cls"]["val"],
        wnids=", ".join(WNIDS), coco_train=spec["coco"]["train"], coco_val=spec["coco"]["val"],
        cat_ids=list(COCO_CAT_IDS), n_shapes=len(SHAPES), n_shapes_1=len(SHAPES) + 1,
        k=len(SHAPES) + len(TEXTURES), a_classes=[SHAPES[c] for c in A_CLASSES],
        r_classes=[SHAPES[c] for c in R_CLASSES])
    (root / "README.md").write_text(text)
