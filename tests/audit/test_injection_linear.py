"""Feature injection (Izzo 2021) on linear models: known answers on several seeds."""

import numpy as np
import pytest

from audit.lab.injection import (
    inject_feature,
    injection_ratio,
    logistic_injection,
    ridge_injection_sweep,
)
from audit.shared.errors import BadInput


@pytest.mark.parametrize("seed", [0, 1, *(pytest.param(s, marks=pytest.mark.slow) for s in (2, 3, 4))])
def test_logistic_retrain_near_zero_noop_near_one(seed):
    r = logistic_injection(seed=seed)
    assert r["theta_o"] > 1.0  # the feature was learnt
    assert abs(r["retrain"]) < 0.05
    assert r["noop"] > 0.9
    # the exact Newton step on the retained objective also removes it; influence (full Hessian) does not
    assert abs(r["newton"]) < 0.05
    assert r["influence"] > 0.3


@pytest.mark.parametrize("seed", [0, 1, pytest.param(2, marks=pytest.mark.slow)])
def test_ridge_sweep_direction_of_izzo_table3(seed):
    rows = ridge_injection_sweep(ks=(1, 5, 10, 20, 40), seed=seed)
    pru = [r["pru"] for r in rows]
    assert all(abs(r["retrain"]) < 1e-9 for r in rows)
    assert pru[0] > 0.8  # one deleted row: PRU barely touches the injected weight
    assert all(a > b for a, b in zip(pru, pru[1:], strict=False))  # falls as k grows
    assert abs(pru[-1]) < 0.05  # k > d: the span covers everything, PRU is exact


def test_pru_is_exact_once_span_covers_parameters():
    rows = ridge_injection_sweep(ks=(40,), seed=0)
    assert rows[0]["pru_distance"] < 1e-8 < rows[0]["noop_distance"]


def test_inject_feature_and_ratio():
    X = np.zeros((4, 2))
    Xa = inject_feature(X, np.array([True, False, False, True]), value=3.0)
    assert Xa[:, -1].tolist() == [3.0, 0.0, 0.0, 3.0]
    assert injection_ratio(np.array([0.0, 1.0]), np.array([0.0, 4.0])) == 0.25
    with pytest.raises(BadInput):
        inject_feature(X, np.zeros(4, dtype=bool))
    with pytest.raises(BadInput):
        injection_ratio(np.array([1.0]), np.array([0.0]))
