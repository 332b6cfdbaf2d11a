"""A torch model's forward batch runs on one thread when small, on torch's threads when large (0023)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from audit.core.model_objects import TorchModule
from audit.core.torch_threads import ONE_THREAD_FLOPS


class _Spy(nn.Module):
    """A linear layer that records torch's intra-op thread count at each forward call."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.threads: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.threads.append(torch.get_num_threads())
        return self.linear(x)


def test_small_batches_run_on_one_thread_large_on_torchs_own() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # so the two scopes differ on any machine
    try:
        spy = _Spy(1024, 1024)
        model = TorchModule(spy)
        assert model.flops_per_row == 2 * (1024 * 1024 + 1024)
        small = ONE_THREAD_FLOPS // model.flops_per_row - 1  # just below the threshold
        out = model.predict_logits(np.zeros((small, 1024), dtype=np.float32))
        assert out.shape == (small, 1024) and spy.threads == [1]
        assert torch.get_num_threads() == 2  # restored
        model.predict_logits(np.zeros((small + 2, 1024), dtype=np.float32))  # above it
        assert spy.threads == [1, 2] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
