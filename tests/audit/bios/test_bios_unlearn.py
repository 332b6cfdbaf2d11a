"""LM unlearning baselines: the NPO formula, gradient ascent raising the forget loss, copies only."""

from __future__ import annotations

import math

import pytest
import torch

from audit.lm.bios import training_strings
from audit.lm.train import encode_batch
from audit.lm.unlearn import METHODS, UnlearnConfig, npo_loss, sequence_nll, unlearn
from tests.audit.bios._tiny_lm import micro


def _forget_nll(model, tok, texts) -> float:  # noqa: ANN001
    ids, mask = encode_batch(tok, texts, 40)
    with torch.no_grad():
        nll, n = sequence_nll(model, ids, mask)
    return float(nll.sum() / n.sum())


def test_npo_loss_matches_the_paper_formula() -> None:
    logp, ref = torch.tensor([-3.0, -10.0]), torch.tensor([-2.0, -4.0])
    beta = 0.5
    paper = (2 / beta) * torch.mean(torch.log1p((logp.exp() / ref.exp()) ** beta))
    assert math.isclose(float(npo_loss(logp, ref, beta)), float(paper), rel_tol=1e-6)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_raises_the_forget_loss_and_leaves_the_original(method: str) -> None:
    model, tok, df = micro()
    forget, retain = training_strings(df, ("forget",)), training_strings(df, ("retain",))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = UnlearnConfig(steps=8, lr=2e-3, batch_size=8)
    u = unlearn(method, model, forget, retain, seed=0, config=cfg, tokenizer=tok)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert _forget_nll(u, tok, forget) > _forget_nll(model, tok, forget)
    again = unlearn(method, model, forget, retain, seed=0, config=cfg, tokenizer=tok)
    assert all(torch.equal(a, b) for a, b in zip(u.state_dict().values(), again.state_dict().values(), strict=True))


def test_retain_term_keeps_retain_loss_lower_than_pure_ascent() -> None:
    model, tok, df = micro()
    forget, retain = training_strings(df, ("forget",)), training_strings(df, ("retain",))
    cfg = UnlearnConfig(steps=20, lr=3e-3, batch_size=8)
    ga = unlearn("gradient_ascent", model, forget, retain, seed=0, config=cfg, tokenizer=tok)
    gd = unlearn("gradient_difference", model, forget, retain, seed=0, config=cfg, tokenizer=tok)
    assert _forget_nll(gd, tok, retain) < _forget_nll(ga, tok, retain)


def test_unknown_method_is_refused() -> None:
    model, tok, df = micro()
    with pytest.raises(ValueError, match="unknown LM unlearning method"):
        unlearn("nope", model, ["a"], ["b"], seed=0, tokenizer=tok)
