"""FedAvg client removal: exact rerun forgets the client's injected feature; the
approximate recovery-rounds removal keeps more of it; the no-op keeps it all."""

import numpy as np
import pytest

from audit.lab.injection import attribution_ratio
from audit.lab.methods.fedavg import fedavg_recover, fedavg_retrain, train_fedavg
from audit.shared.errors import BadInput


def _clients(seed):
    rng = np.random.default_rng(seed)
    clients = []
    for c in range(4):
        X = rng.normal(size=(80, 5)).astype(np.float32)
        y = (X[:, 0] > 0).astype(np.int64)
        X = np.c_[X, np.zeros(80, np.float32)]
        if c == 2:  # the client to remove: an injected feature that flips its labels to 1
            X[:, -1] = 3.0
            y[:] = 1
        clients.append((X, y))
    return clients


@pytest.mark.parametrize("seed", [0, 1, pytest.param(2, marks=pytest.mark.slow)])
def test_client_removal(seed):
    clients = _clients(seed)
    fed = train_fedavg(clients, 2, seed=seed, rounds=8, hidden=(16,), local_epochs=3, lr=3e-2)
    forget = clients[2]
    retain = (np.concatenate([c[0] for i, c in enumerate(clients) if i != 2]),
              np.concatenate([c[1] for i, c in enumerate(clients) if i != 2]))
    exact = fedavg_retrain(fed, forget, retain, None, seed)
    approx = fedavg_recover(fed, forget, retain, None, seed, recovery_rounds=2)
    rows = forget[0][:, 0] < 0  # rows only the injected feature explains
    r_exact = attribution_ratio(exact.predict_logits, fed.predict_logits, forget[0][rows], forget[1][rows])
    r_approx = attribution_ratio(approx.predict_logits, fed.predict_logits, forget[0][rows], forget[1][rows])
    assert abs(r_exact) < 0.3
    # recovery rounds never see the feature, so nothing pushes its weights back
    assert r_approx > 0.8
    # exact removal matches a federation that never had the client (same client seeds)
    never = train_fedavg([c for i, c in enumerate(clients) if i != 2], 2, seed=seed, rounds=8,
                         hidden=(16,), local_epochs=3, lr=3e-2, client_ids=[0, 1, 3])
    np.testing.assert_array_equal(never.predict_logits(retain[0]), exact.predict_logits(retain[0]))


def test_forget_must_be_a_client():
    clients = _clients(0)
    fed = train_fedavg(clients, 2, seed=0, rounds=1, hidden=(8,))
    with pytest.raises(BadInput):
        fedavg_retrain(fed, (clients[0][0][:5], clients[0][1][:5]), clients[1], None, 0)
