"""The README.md written into a demo world: what each folder is and which real dataset it stands for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .coco import COCO_CAT_IDS, CROWD_FRACTION
from .formats import WNIDS
from .robustness import A_CLASSES, R_CLASSES
from .scenes import SHAPES, TEXTURES
from .sizes import SIZES, counts

TEMPLATE = """# maebench demo world ({size}, seed {seed}, {image_size} px, difficulty {difficulty})

Synthetic scenes: a main coloured shape ({shapes}) with smaller distractor shapes that may occlude it,
on a background from a texture family ({textures}), sometimes with a blob of unlabeled clutter. The
main shape is drawn first and kept the largest visible object; its class is the classification label.
Each folder uses the release format of a real dataset, so the suite reads it with the same loaders.
Written by `maebench demo-data --out DIR --size {size} --seed {seed}`; the same command and seed
reproduce every file byte for byte.

| folder | stands for | content |
|---|---|---|
| `pretrain/` | ImageNet train images, unlabeled | {n[pretrain]} flat JPEGs |
| `imagenet/{{train,val}}/<wnid>/` | ImageNet-1K ImageFolder | class = main shape; {n[imagenet][train]}/{n[imagenet][val]} images; wnids {wnids}; `imagenet_class_index.json` (`{{"0": ["<wnid>", "<name>"], ...}}` as keras/timm ship it) in index order = sorted wnids, as ImageNet's, so torchvision's ImageFolder labels equal the index |
| `coco/` | COCO 2017 instances | `annotations/instances_{{train,val}}2017.json`, images in `{{train,val}}2017/`; {n[coco][train]}/{n[coco][val]} images; category ids {cat_ids} (non-contiguous, as COCO's 1..90 for 80 classes; supercategory round/angular); every shape is an instance: polygons (holes joined by a zero-width cut, which pycocotools rasterises back to the exact pixels), and about {crowd:.0%} of instances marked `iscrowd=1` with uncompressed RLE as COCO's crowd regions; `area`/`bbox` computed from the encoded mask |
| `ade/ADEChallengeData2016/` | ADE20K (SceneParsing) | `images/{{training,validation}}/*.jpg`, `annotations/{{training,validation}}/*.png` ({n[ade][training]}/{n[ade][validation]}); 0 = other (clutter blobs, ignored), 1..{n_shapes} = shapes, {n_shapes_1}..{k} = background textures as stuff; use `reduce_zero_label=True` and num_classes={k}; names and a palette in `maebench_classes.json` |
| `inat/` | iNaturalist 2019 | `train2019.json`/`val2019.json` (images, one annotation per image, categories 0..{n_shapes_0} with kingdom..genus) and `train_val2019/<supercategory>/<category id>/<hash>.jpg`; {n[inat][train]}/{n[inat][val]} images |
| `places/` | Places365-Standard | `places365_train_standard.txt` (`/s/stripes/00000001.jpg 4`, relative to `data_256/`), `places365_val.txt` (`Places365_val_00000001.jpg 4`, relative to `val_256/`), `categories_places365.txt`; {n[places][train]}/{n[places][val]} images; scene = background texture family |
| `robustness/a/`, `robustness/r/` | ImageNet-A / -R | classes {a_classes} / {r_classes} only (as the real ones are 200 of 1000), with `imagenet_{{a,r}}_indices.txt` (ascending indices into the class index, as timm ships them) and `imagenet_{{a,r}}_synsets.txt`; A = hard cluttered scenes, cropped into the object ({n[robustness][a]} images); R = sketch/cartoon/inverted renditions ({n[robustness][r]}) |
| `robustness/sketch/` | ImageNet-Sketch | all classes as line drawings ({n[robustness][sketch]}) |
| `robustness/c/<corruption>/<1..5>/<wnid>/` | ImageNet-C | the 15 benchmark corruptions of the `imagecorruptions` package x 5 severities, JPEG quality 85, not resized ({n[robustness][c]} images; classes {c_classes}) |

## How the demo maps to the real data

- Difficulty ({difficulty}, a generator parameter in [0, 1]) scales the number and size of distractors,
  how much of the main shape they may hide (at most 15% + 30% x difficulty), background contrast, the
  share of shapes filled with a texture (difficulty / 2), pixel noise, how far the main shape strays from
  the centre and how little brighter or darker than the background it may be. `maebench demo-data
  --difficulty D` sets it.
- Object-centric like the real sets: in `pretrain/`, `imagenet/`, `inat/` and `robustness/` the main shape
  sits near the centre (jitter up to 5% + 15% x difficulty of the side), as ImageNet photos frame their
  object; in `coco/`, `ade/` and `places/` shapes go anywhere, as in scene photos. `places/` is
  scene-centric: its label is the background, drawn in full contrast (two colours at least 60 grey levels
  apart) behind a main shape of half the usual radius. Shape colours have a
  random hue; their brightness differs from the background under them by at least 40 + 60 x (1 -
  difficulty) grey levels (distractors 20).
- ImageNet-C: imagecorruptions 1.1.2's `glass_blur` passes `multichannel=True` to scikit-image's
  `gaussian`, a keyword newer scikit-image removed. While corrupting, that keyword is translated to
  `channel_axis=-1` (the same per-channel blur). Its `impulse_noise` calls scikit-image's `random_noise`
  unseeded, which newer scikit-image seeds from the OS (different files on every run); it is given a
  generator drawn from numpy's seeded global RNG instead, as older scikit-image did. Same noise
  distribution, no other deviation, nothing resized. The `tiny` world
  corrupts the first {c_tiny} classes only (glass_blur is slow); `small` corrupts every class.
- iNaturalist, other years: 2017 uses `train2017.json`/`val2017.json`, categories {{id, name,
  supercategory}} and images under `train_val_images/<supercategory>/<species name>/`; 2018 uses
  `train2018.json`/`val2018.json`, categories with supercategory plus kingdom..genus (obfuscated names; the
  real ones in a separate `categories.json`) and images under `train_val2018/<supercategory>/<id>/`; 2021
  uses `train.json`/`val.json` with images under `train/<image_dir_name>/`. Category ids are the
  contiguous labels 0..N-1 in every year. Places205 ships `train.txt`/`val.txt` lists of the same form.
- Check a folder (this one or a real dataset) with the `dataformats` validators, e.g.
  `python -c "import dataformats as d; print(d.validate_coco('coco'))"`.
"""


def write_readme(root: Path, size: str, seed: int, image_size: int, difficulty: float, spec: dict[str, Any]) -> None:
    k = len(SHAPES) + len(TEXTURES)
    text = TEMPLATE.format(
        size=size,
        seed=seed,
        image_size=image_size,
        difficulty=difficulty,
        shapes=", ".join(SHAPES),
        textures=", ".join(TEXTURES),
        n=counts(size),
        wnids=", ".join(WNIDS),
        cat_ids=list(COCO_CAT_IDS),
        crowd=CROWD_FRACTION,
        n_shapes=len(SHAPES),
        n_shapes_0=len(SHAPES) - 1,
        n_shapes_1=len(SHAPES) + 1,
        k=k,
        a_classes=[SHAPES[c] for c in A_CLASSES],
        r_classes=[SHAPES[c] for c in R_CLASSES],
        c_classes=[SHAPES[c] for c in range(spec["c_classes"] or len(SHAPES))],
        c_tiny=SIZES["tiny"]["c_classes"],
    )
    (root / "README.md").write_text(text)
