"""Synthetic scenes: coloured shapes with occlusion on textured backgrounds, with exact instance masks.

One scene = a background from a texture family (the "scene" label of Places, the "stuff" of ADE20K),
a main shape (the class of the classification tasks), distractor shapes that may occlude it, and an
optional unlabeled "other" blob of clutter (label 0 of ADE20K). Everything is drawn from one seeded
generator; `Scene.instances[0]` is always the main shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "star", "ring", "cross")
TEXTURES = ("stripes", "checker", "noise", "gradient", "blobs")
_LUMA = np.array([0.299, 0.587, 0.114])
SCENE_MIN_LUMA = 60.0


@dataclass
class Instance:
    shape: int  # index into SHAPES
    mask: np.ndarray  # (H, W) bool, visible part only (after occlusion)


@dataclass
class Scene:
    image: np.ndarray  # (H, W, 3) uint8
    texture: int  # index into TEXTURES
    main_shape: int
    instances: list[Instance] = field(default_factory=list)
    other: np.ndarray | None = None  # (H, W) bool, unlabeled region

    def semantic(self) -> np.ndarray:
        """ADE-style labels: 0 = other, 1..len(SHAPES) = shapes, then textures as stuff."""
        sem = np.full(self.image.shape[:2], 1 + len(SHAPES) + self.texture, np.uint8)
        for inst in self.instances:
            sem[inst.mask] = 1 + inst.shape
        if self.other is not None:
            sem[self.other] = 0
        return sem


def _texture(
    rng: np.random.Generator, family: int, size: int, amplitude: float = 1.0, min_luma: float = 0.0
) -> np.ndarray:
    """A texture of a family between two random colours; amplitude < 1 moves the second colour toward the
    first (a softer background, whose edges compete less with the shapes'); `min_luma` > 0 redraws the
    second colour (a few tries) until the two differ that much in brightness."""
    c1, c2 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    for _attempt in range(8 if min_luma else 0):
        if abs((c2 - c1) @ _LUMA) >= min_luma:
            break
        c2 = rng.integers(0, 256, 3)
    c2 = c1 + (c2 - c1) * amplitude
    yy, xx = np.mgrid[0:size, 0:size] / size
    if TEXTURES[family] == "stripes":
        angle, freq = rng.uniform(0, np.pi), rng.uniform(4, 12)
        t = (np.sin(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle))) > 0).astype(float)
    elif TEXTURES[family] == "checker":
        n = rng.integers(3, 9)
        t = ((np.floor(xx * n) + np.floor(yy * n)) % 2).astype(float)
    elif TEXTURES[family] == "noise":
        t = rng.random((size // 4, size // 4)).repeat(4, 0).repeat(4, 1)[:size, :size]
    elif TEXTURES[family] == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        t = xx * np.cos(angle) + yy * np.sin(angle)
        t = (t - t.min()) / max(np.ptp(t), 1e-6)
    else:  # blobs: a few soft Gaussian bumps
        t = np.zeros((size, size))
        for _ in range(rng.integers(3, 7)):
            cx, cy, s = rng.random(), rng.random(), rng.uniform(0.05, 0.2)
            t += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
        t = np.clip(t, 0, 1)
    return (c1 * (1 - t[..., None]) + c2 * t[..., None]).astype(np.uint8)


def _shape_mask(kind: int, size: int, cx: float, cy: float, r: float, rot: float) -> np.ndarray:
    img = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(img)
    box = (cx - r, cy - r, cx + r, cy + r)
    name = SHAPES[kind]

    def poly(points):
        d.polygon(
            [(cx + x * np.cos(rot) - y * np.sin(rot), cy + x * np.sin(rot) + y * np.cos(rot)) for x, y in points],
            fill=255,
        )

    if name == "circle":
        d.ellipse(box, fill=255)
    elif name == "ring":
        d.ellipse(box, fill=255)
        d.ellipse((cx - r * 0.55, cy - r * 0.55, cx + r * 0.55, cy + r * 0.55), fill=0)
    elif name == "square":
        poly([(-r * 0.8, -r * 0.8), (r * 0.8, -r * 0.8), (r * 0.8, r * 0.8), (-r * 0.8, r * 0.8)])
    elif name == "triangle":
        poly([(r * np.cos(a), r * np.sin(a)) for a in np.pi / 2 + np.arange(3) * 2 * np.pi / 3])
    elif name == "star":
        poly(
            [
                ((r if i % 2 == 0 else r * 0.42) * np.cos(a), (r if i % 2 == 0 else r * 0.42) * np.sin(a))
                for i, a in enumerate(-np.pi / 2 + np.arange(10) * np.pi / 5)
            ]
        )
    else:  # cross
        w = r * 0.33
        poly(
            [(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r), (-w, w), (-r, w), (-r, -w), (-w, -w)]
        )
    return np.asarray(img) > 127


def _paint(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, difficulty: float, min_luma: float = 0.0
) -> None:
    """Fill a shape with a random colour whose brightness differs from the background under it by at least
    `min_luma` (0..255; redrawn, then pushed away from it), and with probability difficulty / 2 with a texture
    of that colour. The hue stays random, so colour alone never gives the class away; the brightness
    contrast is what makes the outline visible to a small model that has seen only a few hundred images
    (measured: with random colours of any brightness a 6-block ViT stayed at chance for 600 steps)."""
    local = float(image[mask].reshape(-1, 3).mean(0) @ _LUMA) if mask.any() else 128.0
    for _attempt in range(9):
        colour = rng.integers(0, 256, 3).astype(np.float64)
        if abs(colour @ _LUMA - local) >= min_luma:
            break
    if abs(colour @ _LUMA - local) < min_luma:  # move the brightness to the side of the background with room
        target = local + min_luma if local < 128 else local - min_luma
        colour = np.clip(colour + (target - colour @ _LUMA), 0, 255)
    if rng.random() < 0.5 * difficulty:
        tex = _texture(rng, int(rng.integers(len(TEXTURES))), image.shape[0]).astype(np.float64)
        image[mask] = (0.5 * tex[mask] + 0.5 * colour).astype(np.uint8)
    else:
        image[mask] = colour.astype(np.uint8)


def _clutter_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """An irregular blob (a random star-convex polygon): ADE20K's unlabeled "other", shaped like none of
    the classes (a plain rectangle would look like a square)."""
    n = int(rng.integers(7, 13))
    r = rng.uniform(0.06, 0.12) * size
    cx, cy = rng.uniform(0, size, 2)
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = r * rng.uniform(0.45, 1.0, n)
    img = Image.new("L", (size, size), 0)
    ImageDraw.Draw(img).polygon([(cx + q * np.cos(a), cy + q * np.sin(a)) for a, q in zip(angles, radii)], fill=255)
    return np.asarray(img) > 127


def make_scene(
    rng: np.random.Generator,
    size: int = 128,
    difficulty: float = 0.5,
    main_shape: int | None = None,
    texture: int | None = None,
    object_centric: bool = False,
    scene_centric: bool = False,
) -> Scene:
    """`difficulty` in [0, 1] scales distractors (count and size), occlusion, how far the main shape may
    leave the frame (or, `object_centric`, stray from the centre), background contrast, how little its
    brightness may differ from the background's, textured fills and noise.

    The label of a scene is its main shape: drawn first and kept the largest visible object (at least 1.5x
    the visible area of any distractor, and at most 15% + 30% * difficulty of it hidden); a distractor
    or clutter placement that would break this is redrawn (a few tries) or dropped.
    """
    texture = int(rng.integers(len(TEXTURES))) if texture is None else texture
    main_shape = int(rng.integers(len(SHAPES))) if main_shape is None else main_shape
    if scene_centric:  # Places-style: the background is the subject, in full contrast; the object is small
        image = _texture(rng, texture, size, amplitude=1.0, min_luma=SCENE_MIN_LUMA)
        r = rng.uniform(0.11, 0.17) * size
    else:
        image = _texture(rng, texture, size, amplitude=rng.uniform(0.3, 0.6) + 0.4 * difficulty)
        r = rng.uniform(0.22, 0.34) * size
    if object_centric:  # near the centre, as in ImageNet-style photos (jitter up to 5% + 15% * difficulty)
        cx, cy = size / 2 + rng.uniform(-1, 1, size=2) * (0.05 + 0.15 * difficulty) * size
    else:  # anywhere, possibly partly out of the frame as difficulty grows (detection / segmentation scenes)
        cx, cy = rng.uniform(r * (1 - difficulty * 0.5), size - r * (1 - difficulty * 0.5), size=2)
    main = _shape_mask(main_shape, size, cx, cy, r, rng.uniform(0, 2 * np.pi))
    _paint(image, main, rng, difficulty, min_luma=40 + 60 * (1 - difficulty))
    instances = [Instance(main_shape, main.copy())]
    keep = (0.85 - 0.3 * difficulty) * main.sum()  # visible main pixels that must remain
    largest = 0  # largest visible distractor area so far

    def fits(mask: np.ndarray, area: int) -> bool:
        left = int((instances[0].mask & ~mask).sum())
        return left >= keep and left >= 1.5 * max(area, largest)

    for _ in range(int(rng.integers(0, 1 + round(4 * difficulty)))):
        kind = int(rng.integers(len(SHAPES)))
        for _attempt in range(4):
            rd = rng.uniform(0.07, 0.1 + 0.08 * difficulty) * size
            mask = _shape_mask(kind, size, *rng.uniform(0, size, 2), rd, rng.uniform(0, 2 * np.pi))
            area = int(mask.sum())
            if area >= 12 and fits(mask, area):
                break
        else:
            continue
        _paint(image, mask, rng, difficulty, min_luma=20)
        for inst in instances:  # later shapes occlude earlier ones
            inst.mask &= ~mask
        instances.append(Instance(kind, mask))
        largest = max([largest, area] + [int(i.mask.sum()) for i in instances[1:]])
    other = None
    if rng.random() < 0.5:  # an unlabeled region: ADE20K's "other" (label 0)
        for _attempt in range(3):
            mask = _clutter_mask(rng, size)
            if mask.sum() >= 12 and fits(mask, 0):
                other = mask
                image[other] = rng.integers(0, 256, (int(other.sum()), 3))  # per-pixel random colours
                for inst in instances:
                    inst.mask &= ~other
                break
    instances = [instances[0]] + [i for i in instances[1:] if i.mask.sum() >= 12]
    noise = rng.normal(0, 6 + 10 * difficulty, image.shape)
    image = np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return Scene(image, texture, main_shape, instances, other)


def sketch(scene: Scene) -> np.ndarray:
    """A line drawing of the scene's shapes (ImageNet-Sketch / -R style renditions)."""
    from scipy import ndimage

    h, w = scene.image.shape[:2]
    out = np.full((h, w, 3), 245, np.uint8)
    for inst in scene.instances:
        edge = inst.mask & ~ndimage.binary_erosion(inst.mask, iterations=2)
        out[edge] = 20
    return out
