"""Per-sequence LM membership scores against their published formulas, computed by hand."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from attacks.sequence import lowest_share_mean, sequence_scores


def test_scores_match_the_formulas_row_by_row():
    rng = np.random.default_rng(0)
    rows = [np.log(rng.uniform(0.01, 1, n)) for n in (3, 10, 7)]
    mus = [r - rng.uniform(0, 1, r.size) for r in rows]
    sigmas = [rng.uniform(0.5, 2, r.size) for r in rows]
    texts = ["a b c d", "the same words again and again and again", "x y z"]
    off = np.r_[0, np.cumsum([r.size for r in rows])]
    s = sequence_scores(np.concatenate(rows), off, texts, ["loss", "zlib", "min_k", "min_k_plus_plus"], k=0.2,
                        mu=np.concatenate(mus), sigma=np.concatenate(sigmas))
    for i, (lp, mu, sd) in enumerate(zip(rows, mus, sigmas, strict=True)):
        m = max(1, int(0.2 * lp.size))  # Shi et al.: the lowest k% of the tokens
        assert s["loss"][i] == pytest.approx(lp.mean())
        assert s["zlib"][i] == pytest.approx(lp.mean() / len(zlib.compress(texts[i].encode())))
        assert s["min_k"][i] == pytest.approx(np.sort(lp)[:m].mean())
        assert s["min_k_plus_plus"][i] == pytest.approx(np.sort((lp - mu) / sd)[:m].mean())


def test_memorised_text_scores_higher_and_sigma_is_floored():
    member, other = np.log([0.9, 0.95, 0.8]), np.log([0.2, 0.1, 0.3])
    s = sequence_scores(np.r_[member, other], np.array([0, 3, 6]), ["a", "b"], ["loss", "min_k"])
    assert s["loss"][0] > s["loss"][1] and s["min_k"][0] > s["min_k"][1]
    z = sequence_scores(np.array([-1.0]), np.array([0, 1]), ["a"], ["min_k_plus_plus"], mu=np.array([-2.0]),
                        sigma=np.array([0.0]))
    assert z["min_k_plus_plus"][0] == pytest.approx(1.0 / 1e-3)
    assert np.isnan(lowest_share_mean(np.zeros(0), np.array([0, 0]), 0.2)[0])
    with pytest.raises(ValueError, match="needs the per-token mu and sigma"):
        sequence_scores(member, np.array([0, 3]), ["a"], ["min_k_plus_plus"])
