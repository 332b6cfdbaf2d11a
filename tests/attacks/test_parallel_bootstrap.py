"""Bootstrap blocks drawn in parallel: exact replicates, one stream per block, any thread count."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import roc_auc_score

from attacks.blocks import block_generator, block_seeds, block_size
from attacks.counts import POISSON_FROM, poisson_block
from attacks.metrics import auc_from_ranks
from attacks.normal import normal_from_rows
from attacks.resample import paired_roc_bootstrap, tpr_at_fpr_rows
from attacks.strata import matched_auc
from audit.core.stats import bootstrap_means


def test_replicates_do_not_depend_on_the_thread_count() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(3000, 3))
    one = bootstrap_means(v, 300, np.random.default_rng(1), threads=1)
    np.testing.assert_array_equal(one, bootstrap_means(v, 300, np.random.default_rng(1), threads=3))
    # a longer bootstrap extends a shorter one (block j's seed does not depend on the count)
    np.testing.assert_array_equal(one[:128], bootstrap_means(v, 128, np.random.default_rng(1), threads=2))
    pos, neg = rng.normal(0.3, 1, 1500), rng.normal(0, 1, 2500)
    a = paired_roc_bootstrap({"u": pos, "r": pos + 0.1}, {"u": neg, "r": neg}, 200, np.random.default_rng(2),
                             (0.01,), threads=1)
    b = paired_roc_bootstrap({"u": pos, "r": pos + 0.1}, {"u": neg, "r": neg}, 200, np.random.default_rng(2),
                             (0.01,), threads=4)
    for k in ("u", "r"):
        for m in ("auc", "tpr"):
            np.testing.assert_array_equal(a[k][m], b[k][m])


def test_block_replicates_equal_sklearn_on_the_resampled_rows() -> None:
    """Block 0's counts regenerated from the documented seeding give each replicate exactly."""
    rng = np.random.default_rng(5)
    pos, neg = np.round(rng.normal(0.6, 1, 1500), 1), np.round(rng.normal(0, 1, 2500), 1)  # ties
    assert min(len(pos), len(neg)) >= POISSON_FROM  # the block path
    reps = paired_roc_bootstrap({"m": pos}, {"m": neg}, 6, np.random.default_rng(9), (0.01, 0.1))
    g = block_generator(block_seeds(np.random.default_rng(9), 1)[0])
    b = min(6, block_size(len(pos) + len(neg)))
    c1, c0 = poisson_block(len(pos), b, g), poisson_block(len(neg), b, g)
    # a cell's count columns hold its rows in the first model's score order (stable)
    p_rows, n_rows = pos[np.argsort(pos, kind="stable")], neg[np.argsort(neg, kind="stable")]
    for i in range(b):
        p, n = np.repeat(p_rows, c1[i]), np.repeat(n_rows, c0[i])
        want = roc_auc_score(np.r_[np.ones(len(p)), np.zeros(len(n))], np.r_[p, n])
        assert reps["m"]["auc"][i] == pytest.approx(want, abs=1e-12)
        np.testing.assert_allclose(reps["m"]["tpr"][i], tpr_at_fpr_rows(p[None], n[None], (0.01, 0.1))[0])


def test_auc_percentile_interval_agrees_with_scipy_bootstrap() -> None:
    rng = np.random.default_rng(3)
    pos, neg = rng.normal(0.4, 1, 1200), rng.normal(0, 1, 3000)
    reps = paired_roc_bootstrap({"m": pos}, {"m": neg}, 2000, np.random.default_rng(4))["m"]["auc"]
    lo, hi = np.quantile(reps, [0.05, 0.95])

    def auc(p: np.ndarray, q: np.ndarray, axis: int = -1) -> np.ndarray:
        return auc_from_ranks(np.moveaxis(p, axis, -1), np.moveaxis(q, axis, -1))

    ref = sps.bootstrap((pos, neg), auc, n_resamples=2000, batch=100, method="percentile", paired=False,
                        confidence_level=0.9, random_state=5).confidence_interval
    half = (ref.high - ref.low) / 2  # ~1.6 standard errors; Monte-Carlo error of an end ~0.05 SE
    assert lo == pytest.approx(ref.low, abs=0.15 * half) and hi == pytest.approx(ref.high, abs=0.15 * half)


def test_stratified_blocks_keep_every_stratum_auc() -> None:
    # stratum a: members above non-members, stratum b: below; every stratified resample
    # keeps AUC_a = 1 and AUC_b = 0, so the matched AUC is exactly the share of a's members
    rng = np.random.default_rng(6)
    na1, nb1, na0, nb0 = 1100, 1300, 1500, 1200
    pos = np.r_[rng.normal(5, 0.1, na1), rng.normal(-5, 0.1, nb1)]
    neg = rng.normal(0, 0.1, na0 + nb0)
    ps, ns = np.r_[["a"] * na1, ["b"] * nb1], np.r_[["a"] * na0, ["b"] * nb0]
    reps = paired_roc_bootstrap({"m": pos, "r": -pos}, {"m": neg, "r": neg}, 40, np.random.default_rng(0),
                                (0.1,), ps, ns)
    np.testing.assert_allclose(reps["m"]["auc"], na1 / (na1 + nb1), atol=1e-12)
    np.testing.assert_allclose(reps["r"]["auc"], nb1 / (na1 + nb1), atol=1e-12)
    assert matched_auc(pos, neg, ps, ns).auc == pytest.approx(na1 / (na1 + nb1))
    assert 0.4 < reps["m"]["auc_unmatched"].mean() < 0.5  # a's members above every non-member, b's below


def test_block_memory_does_not_grow_with_the_resamples() -> None:
    v = np.random.default_rng(0).normal(size=200_000)

    def peak(n_boot: int) -> int:
        tracemalloc.start()
        with normal_from_rows(10**12):  # the exact row bootstrap's blocks
            bootstrap_means(v, n_boot, np.random.default_rng(1), threads=2)
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    small, large = peak(40), peak(800)  # 10 and 200 blocks of 4 resamples
    assert large < 1.5 * small  # the blocks in flight, not the resamples (the output grows by 6 KiB)
    assert large < 40 * 2**20  # two threads' blocks: ~1 M counts each, uint8 and float64 (~9 MiB)


def test_stratified_block_replicates_equal_matched_auc_on_the_resampled_rows() -> None:
    """Block 0 regenerated (cells as paired_roc_bootstrap lays them out): matched and unmatched AUC per resample."""
    from attacks.blocks import Scratch
    from attacks.counts import stratified_counts
    from attacks.strata import match_strata

    rng = np.random.default_rng(8)
    ps = rng.choice(["a", "b", "c"], 2600, p=[0.5, 0.45, 0.05])  # c: members only (dropped)
    ns = rng.choice(["a", "b", "d"], 3400, p=[0.4, 0.35, 0.25])  # d: non-members only
    pos, neg = np.round(rng.normal(0.5, 1, len(ps)), 1), np.round(rng.normal(0, 1, len(ns)), 1)  # ties
    reps = paired_roc_bootstrap({"m": pos}, {"m": neg}, 4, np.random.default_rng(2), (0.05,), ps, ns)["m"]
    match = match_strata(ps, ns)

    def layout(cells: tuple, scores: np.ndarray) -> list:
        cells = [c[np.argsort(scores[c], kind="stable")] for c in cells]
        return sorted(cells, key=lambda c: len(c) < POISSON_FROM)

    cells1, cells0 = layout(match.pos_cells, pos), layout(match.neg_cells, neg)
    g = block_generator(block_seeds(np.random.default_rng(2), 1)[0])
    b = 4
    X1, X0 = stratified_counts(cells1, b, g, Scratch(), "X1").copy(), stratified_counts(cells0, b, g, Scratch(), "X0").copy()
    rows1, rows0 = np.concatenate(cells1), np.concatenate(cells0)
    for i in range(b):
        i1, i0 = np.repeat(rows1, X1[i]), np.repeat(rows0, X0[i])
        assert reps["auc"][i] == pytest.approx(matched_auc(pos[i1], neg[i0], ps[i1], ns[i0]).auc, abs=1e-12)
        want = roc_auc_score(np.r_[np.ones(len(i1)), np.zeros(len(i0))], np.r_[pos[i1], neg[i0]])
        assert reps["auc_unmatched"][i] == pytest.approx(want, abs=1e-12)
        np.testing.assert_allclose(reps["tpr"][i], tpr_at_fpr_rows(pos[i1][None], neg[i0][None], (0.05,))[0])
