"""Helpers for the membership / unlearning inference known-answer tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from audit.checks import CheckContext, registry
from audit.core.cache import OutputCache
from audit.core.case_file import load_case
from audit.engine.policy import default_policy, merge_policy


def gradient_ascent(case_dir: Path, out: Path, steps: int = 60, lr: float = 1e-3) -> None:
    """Write a TorchScript model: the original pushed by gradient *ascent* on the forget rows."""
    model = torch.jit.load(str(case_dir / "original.pt"))
    df = pd.read_parquet(case_dir / "data.parquet")
    f = df[df["split"] == "forget"]
    X = torch.tensor(f[[c for c in df.columns if c.startswith("px")]].to_numpy(np.float32))
    y = torch.tensor(f["label"].to_numpy(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        (-torch.nn.functional.cross_entropy(model(X), y)).backward()
        opt.step()
    torch.jit.save(model.eval(), str(out))


def run_check(case_toml: Path, cid: str, seed: int = 0, **overrides: object):
    """Run one check on a case with the default policy plus ``overrides``."""
    case = load_case(case_toml)
    pol = merge_policy(default_policy(), {cid: overrides} if overrides else None)
    cache = OutputCache(case.models, case.X, case.y)
    ctx = CheckContext(case=case, cache=cache, policy=pol[cid], general=pol["general"],
                       rng=np.random.default_rng(seed), seed=seed)
    return registry()[cid].run(ctx)
