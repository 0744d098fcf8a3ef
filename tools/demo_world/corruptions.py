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
  time here), so its jobs start first when the generator runs worker processes.
imagecorruptions draws from numpy's global RNG, so it is seeded per image from (seed, corruption,
severity, class, index): a file depends on nothing else, serial and parallel runs write the same bytes,
and the caller's global RNG state is restored afterwards.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from pathlib import Path

import numpy as np

from dataformats.robustness import BENCHMARK_CORRUPTIONS as CORRUPTIONS  # the demo world writes exactly these

from .formats import WNIDS, Job, rng_for, run_jobs
from .scenes import make_scene

QUALITY = 85  # ImageNet-C's JPEG quality


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


@functools.lru_cache(maxsize=2)
def _clean_images(seed: int, size: int, per_class: int, classes: tuple[int, ...]) -> dict:
    """The clean scenes to corrupt, rendered once per process (a few ms each)."""
    return {
        (c, i): make_scene(rng_for(seed, "robust", 9, c * 10000 + i), size, 0.5, c, object_centric=True).image
        for c in classes
        for i in range(per_class)
    }


def corrupt_one_level(
    root: str, seed: int, size: int, per_class: int, classes: tuple[int, ...], k: int, severity: int
) -> int:
    """Every clean image at one (corruption, severity): one job. Returns the number of files written."""
    from PIL import Image

    corrupt = load_corrupt()
    clean = _clean_images(seed, size, per_class, tuple(classes))
    state = np.random.get_state()
    try:
        with skimage_compat():
            for (c, i), img in clean.items():
                np.random.seed([seed, k, severity, c, i])
                out = corrupt(img, corruption_name=CORRUPTIONS[k], severity=severity)
                if out.shape != img.shape:  # never resize silently: the evaluator feeds these as they are
                    raise RuntimeError(f"imagecorruptions {CORRUPTIONS[k]} returned shape {out.shape} for {img.shape}")
                path = Path(root) / CORRUPTIONS[k] / str(severity) / WNIDS[c] / f"c_{c}_{i:04d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(out).save(path, quality=QUALITY)
    finally:
        np.random.set_state(state)
    return len(clean)


def imagenet_c_jobs(root: Path, per_class: int, seed: int, size: int, classes: tuple[int, ...]) -> list[Job]:
    """One job per (corruption, severity), glass_blur's first (the slow ones first pack workers best)."""
    if size < 32:
        raise ValueError(f"ImageNet-C images need at least 32x32 pixels (imagecorruptions), got {size}")
    n = per_class * len(classes)
    jobs = [
        (corrupt_one_level, (str(root), seed, size, per_class, tuple(classes), k, s), n)
        for k in range(len(CORRUPTIONS))
        for s in range(1, 6)
    ]
    return sorted(jobs, key=lambda job: CORRUPTIONS[job[1][5]] != "glass_blur")


def write_imagenet_c(
    root: Path, per_class: int, seed: int, size: int, classes: tuple[int, ...], workers: int = 1
) -> int:
    """Corrupt `per_class` clean scenes of each class in `classes`; returns the number of files."""
    jobs = imagenet_c_jobs(root, per_class, seed, size, classes)
    run_jobs(jobs, workers)
    return sum(n for _fn, _args, n in jobs)
