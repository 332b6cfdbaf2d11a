"""The streamed (memory-mapped) output cache: same metrics, one forward pass, no files left, bounded RAM."""

from __future__ import annotations

import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import audit.core.cache
from audit.core.adapters import CallableModel
from audit.core.cache import OutputCache
from audit.engine.runner import run_audit
from audit.shared.errors import BadInput
from benchmarks.scale_case import build_case

_VOLATILE = ("cost", "started_at", "finished_at", "environment")


def _stable(results: dict) -> dict:
    """results.json without what varies between runs (timestamps, seconds, the per-run commitment)."""
    out = {k: v for k, v in results.items() if k not in _VOLATILE}
    out["data"] = {k: v for k, v in results["data"].items() if k != "forget_set_sha256"}
    return out


@pytest.fixture(scope="module")
def small_case():  # noqa: ANN201 - an AuditCase
    return build_case(2000, n_forget=200, n_retain=2000)


def test_streamed_cache_gives_the_in_memory_results(small_case) -> None:
    in_memory = OutputCache(small_case.models, small_case.inputs, small_case.y,
                            spill_bytes=2**40)  # nothing spills
    streamed = OutputCache(small_case.models, small_case.inputs, small_case.y, spill_bytes=0)
    # every default check, the differencing attack's sampled reads (logprobs32[rows]) included
    a = run_audit(small_case, seed=3, cache=in_memory)
    b = run_audit(small_case, seed=3, cache=streamed)
    assert in_memory.store_dir is None and streamed.store_dir is not None  # really two stores
    files = [p for p in Path(streamed.store_dir).iterdir() if p.suffix == ".f32"]
    assert len(files) == len(streamed.calls) > 0
    assert _stable(a) == _stable(b)
    # every (model, split) went through its model exactly once, in either store
    assert all(v == 1 for v in streamed.calls.values()) and all(v == 1 for v in in_memory.calls.values())
    streamed.close()
    assert not any(p.exists() for p in files)


def test_columns_match_the_log_probabilities() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 5))
    X = {"test": rng.normal(size=(1000, 3)).astype(np.float32)}
    y = {"test": rng.integers(0, 5, 1000)}
    with OutputCache({"u": CallableModel(lambda x: x @ w)}, X.get, y.get, batch_size=128,
                     spill_bytes=0) as c:
        lp = c.logprobs("u", "test")
        assert lp.dtype == np.float64 and isinstance(c.logprobs32("u", "test"), np.memmap)
        assert np.array_equal(c.losses("u", "test"), -lp[np.arange(1000), y["test"]])
        assert np.array_equal(c.predictions("u", "test"), lp.argmax(1))
        assert np.array_equal(c.correct("u", "test"), (lp.argmax(1) == y["test"]).astype(float))
        chunked = c.rowwise(lambda a, yy: a.max(1), "test", "u")
        assert np.array_equal(chunked, lp.max(1))
        with pytest.raises(ValueError):
            c.logprobs32("u", "test")[0, 0] = 0.0  # the store is read-only to checks
        assert c.calls[("u", "test")] == 1


class _Spy:
    """Records every temporary store directory the runner's cache makes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        self.dirs: list[Path] = []
        monkeypatch.setattr(audit.core.cache, "SPILL_BYTES", 0)  # every output memory-mapped
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        original = OutputCache._file

        def spy(cache: OutputCache, role: str, split: str) -> str:
            path = original(cache, role, split)
            self.dirs.append(Path(path).parent)
            return path

        monkeypatch.setattr(OutputCache, "_file", spy)

    def leftovers(self, tmp_path: Path) -> list[str]:
        return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("unlearn-audit-cache-"))


def test_temp_files_removed_after_success(small_case, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spy = _Spy(monkeypatch, tmp_path)
    run_audit(small_case, seed=0)
    assert spy.dirs and all(d.parent == tmp_path for d in spy.dirs)  # outputs did go to files
    assert spy.leftovers(tmp_path) == []


class _Breaks:
    """A model that behaves until its ``after``-th call, then raises ``exc``."""

    format, sha256 = "callable", None

    def __init__(self, inner: object, after: int, exc: BaseException) -> None:
        self.inner, self.after, self.exc, self.n = inner, after, exc, 0

    def predict_logits(self, X: np.ndarray) -> np.ndarray:
        self.n += 1
        if self.n > self.after:
            raise self.exc
        return self.inner.predict_logits(X)  # type: ignore[attr-defined]


@pytest.mark.parametrize("exc", [KeyboardInterrupt("simulated Ctrl-C"), BadInput("x", "broken model")],
                         ids=["interrupt", "bad-input"])
def test_temp_files_removed_on_bad_input_and_interrupt(small_case, monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path, exc: BaseException) -> None:
    spy = _Spy(monkeypatch, tmp_path)
    models = dict(small_case.models)
    monkeypatch.setattr(small_case, "models", {**models, "unlearned": _Breaks(models["unlearned"], 2, exc)})
    with pytest.raises(type(exc)):
        run_audit(small_case, seed=0)
    assert spy.dirs  # some outputs had been written to files before it broke
    assert spy.leftovers(tmp_path) == []


def test_memory_stays_bounded_per_batch() -> None:
    """200 000 rows x 20 classes: a float64 copy is 32 MB; the cache and a chunked check stay far below."""
    n, classes, batch = 200_000, 20, 4096
    rng = np.random.default_rng(1)
    X = {"test": rng.normal(size=(n, 4)).astype(np.float32)}
    y = {"test": rng.integers(0, classes, n)}
    w1, w2 = rng.normal(size=(4, classes)), rng.normal(size=(4, classes))
    models = {"a": CallableModel(lambda x: x @ w1), "b": CallableModel(lambda x: x @ w2)}
    full = n * classes * 8
    with OutputCache(models, X.get, y.get, batch_size=batch, spill_bytes=0) as c:
        tracemalloc.start()
        try:
            c.losses("a", "test"), c.losses("b", "test")  # both forward passes
            _, forward_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            from audit.core.divergence import row_divergences

            rows = c.rowwise(lambda la, lb, yy: row_divergences(la, lb), "test", "a", "b")
            _, rowwise_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert set(rows) == {"kl", "js", "tv", "disagreement"} and len(rows["kl"]) == n
    # the stored log-probabilities are memory-mapped, not heap; the heap holds the [n] columns
    # (loss float64 + pred int64 per model) and a few [batch, classes] arrays
    assert forward_peak < full / 2, forward_peak
    # four [n] float64 results (twice while concatenating) + a few [batch, classes] chunks
    assert rowwise_peak < full, rowwise_peak
