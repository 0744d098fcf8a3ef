"""The bootstrap of tools/report/stats.py on synthetic outcomes: agreement with the binomial (Wilson)
interval, paired gains (a planted difference is covered, no difference is n.s.), mIoU as a ratio of
sums, the seed x image aggregation against a hand computation, and determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tools.report import stats


def _hits(values) -> stats.Outcomes:
    return stats.Outcomes("mean", {"hit": np.asarray(values, dtype=float)})


def _wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * (centre - half), 100 * (centre + half)


def test_top1_interval_agrees_with_wilson():
    rng = np.random.default_rng(1)
    hit = (rng.random(20000) < 0.7).astype(float)
    reps = stats.bootstrap([_hits(hit)], 2000, seed=0, column="c", label="a")
    lo, hi = stats.interval(reps)
    wlo, whi = _wilson(int(hit.sum()), len(hit))
    assert abs(lo - wlo) < 0.1 and abs(hi - whi) < 0.1, ((lo, hi), (wlo, whi))


def test_paired_gain_covers_a_planted_difference_and_no_difference_is_ns():
    rng = np.random.default_rng(2)
    base = (rng.random(2000) < 0.6).astype(float)
    wrong = np.flatnonzero(base == 0)
    better = base.copy()
    better[rng.choice(wrong, 100, replace=False)] = 1.0  # +5.0 points, on the same images
    same = base.copy()  # as many new errors as new hits: no difference
    same[rng.choice(wrong, 60, replace=False)] = 1.0
    same[rng.choice(np.flatnonzero(base == 1), 60, replace=False)] = 0.0

    def est(hit, label):
        o = _hits(hit)
        return stats.Estimate(o.value(), [o.value()], stats.bootstrap([o], 1000, 0, "col", label))

    b = est(base, "scratch")
    gain, ci = stats.gain(est(better, "mae"), b)
    assert gain == pytest.approx(5.0) and ci[0] < 5.0 < ci[1] and stats.significant(ci) is True
    # paired: far narrower than two independent intervals would make it
    assert ci[1] - ci[0] < 2.0
    gain, ci = stats.gain(est(same, "other"), b)
    assert gain == pytest.approx(0.0) and stats.significant(ci) is False


def test_miou_is_a_ratio_of_sums():
    inter = np.array([[5, 0], [1, 2]], dtype=float)
    union = np.array([[10, 0], [1, 4]], dtype=float)  # class 1 absent from image 0
    o = stats.Outcomes("iou", {"intersect": inter, "union": union})
    assert o.value() == pytest.approx(100 * (6 / 11 + 2 / 4) / 2)
    assert o.value(np.array([2.0, 0.0])) == pytest.approx(50.0)  # class 1 has no union: left out


def test_seed_then_image_aggregation_by_hand():
    runs = [_hits([1, 0, 0]), _hits([1, 1, 0])]  # two seeds, three images
    counts = np.array([[3, 0, 0], [0, 1, 2], [1, 1, 1]], dtype=float)
    drawn = np.array([[0, 1, 1], [0, 0, 1]])  # column b: the seeds drawn for replicate b
    # b0: seed 0 twice on image 0 x3 -> 100; b1: seed 1 on {1, 2, 2} -> 33.3 and seed 0 -> 0; b2: seed 1 twice
    assert stats.aggregate(runs, counts, drawn) == pytest.approx([100.0, 100 / 6, 200 / 3])
    # bootstrap() is that aggregation on its own draws: deterministic for a seed, other seeds differ
    a = stats.bootstrap(runs, 500, 7, "col", "mae")
    assert np.array_equal(a, stats.bootstrap(runs, 500, 7, "col", "mae"))
    assert not np.array_equal(a, stats.bootstrap(runs, 500, 8, "col", "mae"))
    assert 0.0 <= a.min() and a.max() <= 100.0


def test_count_chunks_resample_n_images_each():
    rng = np.random.default_rng(0)
    chunks = list(stats.count_chunks(rng, 7, 10))
    counts = np.concatenate(chunks)
    assert counts.shape == (10, 7) and np.all(counts.sum(axis=1) == 7)
