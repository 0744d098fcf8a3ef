"""ImageNet-C style trees made with the `imagecorruptions` package: 15 corruptions x 5 severities, JPEG
quality 85 as ImageNet-C ships, never resized (the evaluator feeds them as they are).

Compatibility with the installed stack (imagecorruptions 1.1.2 is from 2019), checked for all 15 x 5:
- glass_blur calls `skimage.filters.gaussian(..., multichannel=True)`; scikit-image 0.19 renamed the
  keyword to `channel_axis` and later releases removed it (TypeError). While corrupting, the module's
  `gaussian` name is wrapped to translate that one keyword (`channel_axis=-1`, the same per-channel blur).
- impulse_noise calls `skimage.util.random_noise` without a seed; scikit-image 0.19+ then seeds a fresh
  generator from the OS, so its output changed on every run. While corrupting, `random_noise` gets a
  generator seeded from numpy's global RNG (the old behaviour), which we seed per image.
  imagecorruptions' own code runs unchanged and nothing is copied from it; the other 13 run as shipped.
- its import warns (scipy.ndimage.interpolation, pkg_resources are deprecated, still working): silenced.
- it needs images of at least 32x32; glass_blur is a Python loop (~0.28 s per 128 px image, 75% of the
  time here), hence the worker processes.
imagecorruptions draws from numpy's global RNG, so it is seeded per image from (seed, corruption,
severity, class, index): a file depends on nothing else, serial and parallel runs write the same bytes,
and the caller's global RNG state is restored afterwards.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .formats import WNIDS, rng_for
from .scenes import make_scene

CORRUPTIONS = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
               "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
               "jpeg_compression")
QUALITY = 85  # ImageNet-C's JPEG quality
_CLEAN: dict[tuple[int, int], np.ndarray] = {}  # per process: the clean images being corrupted


@contextlib.contextmanager
def skimage_compat():
    """While corrupting: translate glass_blur's removed `multichannel=True` keyword to `channel_axis=-1`,
    and give impulse_noise's `random_noise` a generator drawn from numpy's global RNG (as scikit-image did
    when imagecorruptions was written; it now seeds itself from the OS, so output would vary per run)."""
    import imagecorruptions.corruptions as ic
    import skimage.util

    gaussian_orig, noise_orig = ic.gaussian, skimage.util.random_noise

    def gaussian(image, *args, multichannel=None, **kwargs):
        if multichannel:
            kwargs["channel_axis"] = -1
        return gaussian_orig(image, *args, **kwargs)

    def random_noise(image, *args, rng=None, **kwargs):
        if rng is None:
            rng = int(np.random.randint(0, 2**31 - 1))
        return noise_orig(image, *args, rng=rng, **kwargs)

    ic.gaussian, skimage.util.random_noise = gaussian, random_noise
    try:
        yield
    finally:
        ic.gaussian, skimage.util.random_noise = gaussian_orig, noise_orig


def load_corrupt():
    """imagecorruptions' `corrupt`, imported without its import-time deprecation warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        from imagecorruptions import corrupt
    return corrupt


def _clean_images(seed: int, size: int, per_class: int, classes: tuple[int, ...]) -> dict:
    return {(c, i): make_scene(rng_for(seed, "robust", 9, c * 10000 + i), size, 0.5, c).image
            for c in classes for i in range(per_class)}


def _init_worker(seed: int, size: int, per_class: int, classes: tuple[int, ...]) -> None:
    _CLEAN.clear()
    _CLEAN.update(_clean_images(seed, size, per_class, classes))


def _corrupt_job(job: tuple[str, int, int, int]) -> int:
    """All clean images at one (corruption, severity); returns the number of files written."""
    from PIL import Image

    root, seed, k, severity = job
    corrupt = load_corrupt()
    state = np.random.get_state()
    try:
        with skimage_compat():
            for (c, i), img in _CLEAN.items():
                np.random.seed([seed, k, severity, c, i])
                out = corrupt(img, corruption_name=CORRUPTIONS[k], severity=severity)
                if out.shape != img.shape:  # never resize silently: the evaluator feeds these as they are
                    raise RuntimeError(f"imagecorruptions {CORRUPTIONS[k]} returned shape {out.shape} for {img.shape}")
                path = Path(root) / CORRUPTIONS[k] / str(severity) / WNIDS[c] / f"c_{c}_{i:04d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(out).save(path, quality=QUALITY)
    finally:
        np.random.set_state(state)
    return len(_CLEAN)


def write_imagenet_c(root: Path, per_class: int, seed: int, size: int, classes: tuple[int, ...],
                     workers: int = 1, progress=None) -> int:
    """Corrupt `per_class` clean scenes of each class in `classes`; returns the number of files.
    `progress` (a tqdm bar or None) advances by one per file."""
    if size < 32:
        raise ValueError(f"ImageNet-C images need at least 32x32 pixels (imagecorruptions), got {size}")
    init = (seed, size, per_class, tuple(classes))
    jobs = [(str(root), seed, k, s) for k in range(len(CORRUPTIONS)) for s in range(1, 6)]
    jobs.sort(key=lambda j: CORRUPTIONS[j[2]] != "glass_blur")  # the slow ones first: better packing
    done = 0
    if workers <= 1:
        saved = dict(_CLEAN)
        _init_worker(*init)
        try:
            for job in jobs:
                done += _corrupt_job(job)
                if progress is not None:
                    progress.update(len(_CLEAN))
        finally:
            _CLEAN.clear()
            _CLEAN.update(saved)
        return done
    # spawn, not fork: the parent may hold torch/OpenMP threads, which a forked child can deadlock on
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=init) as pool:
        for n in pool.map(_corrupt_job, jobs):
            done += n
            if progress is not None:
                progress.update(n)
    return done
