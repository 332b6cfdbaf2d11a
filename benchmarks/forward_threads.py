"""Forward-pass time of torch MLPs on torch's default threads against one thread, quiet and busy.

The figures of decision record 0023. Two models, run batch by batch as the output cache runs
them (batches of 4 096 rows, float32 in, no gradients; the module is called directly, since
``TorchModule.predict_logits`` now picks the threads itself):

* ``small``: the digits MLP (64 -> 128 -> 10) on the digits splits (180 forget, 1 257 retain,
  360 test rows): one "pass" is the three splits;
* ``big``: 100 -> 4 x 1024 -> 10 on 100 000 rows (25 batches).

Each is timed on torch's default intra-op threads and inside ``one_thread()``, alternately
(so drift in the machine's load hits both), first quiet, then while a child process spins on
one core (started here and killed by its pid afterwards). Prints a Markdown table: median,
90th percentile and worst pass. Then the same on one 4 096-row batch of MLPs between the two
(100 features in, 10 out), to find where one thread stops paying.

Run: ``python -m benchmarks.forward_threads [small_reps] [big_reps] [sweep_reps]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from audit.core.torch_threads import one_thread
from audit.training.recipes import MLP

BATCH = 4096


def _model(n_features: int, hidden: tuple[int, ...]) -> torch.nn.Module:
    torch.manual_seed(0)
    return MLP(n_features, 10, hidden).eval()


def _pass(model: torch.nn.Module, splits: list[np.ndarray]) -> Callable[[], None]:
    def run() -> None:
        for X in splits:
            for start in range(0, len(X), BATCH):
                with torch.no_grad():
                    model(torch.from_numpy(X[start : start + BATCH])).double().numpy()
    return run


def _cases() -> dict[str, tuple[Callable[[], None], float]]:
    """``{name: (one pass, FLOPs of its largest batch)}``."""
    rng = np.random.default_rng(0)
    small = _model(64, (128,))
    big = _model(100, (1024,) * 4)
    digits = [rng.normal(size=(n, 64)).astype(np.float32) for n in (180, 1257, 360)]
    rows = rng.normal(size=(100_000, 100)).astype(np.float32)
    flops = {"small": 2 * 1257 * (64 * 128 + 128 * 10),
             "big": 2 * BATCH * (100 * 1024 + 3 * 1024 * 1024 + 1024 * 10)}
    return {"small": (_pass(small, digits), flops["small"]), "big": (_pass(big, [rows]), flops["big"])}


def _time(run: Callable[[], None], reps: int) -> dict[str, list[float]]:
    """Seconds of each pass, default threads and one thread alternating."""
    out: dict[str, list[float]] = {"default": [], "one": []}
    run()  # warm-up
    with one_thread():
        run()
    for _ in range(reps):
        t = time.perf_counter()
        run()
        out["default"].append(time.perf_counter() - t)
        with one_thread():
            t = time.perf_counter()
            run()
            out["one"].append(time.perf_counter() - t)
    return out


SWEEP = ((32,), (128,), (256, 256), (512, 512), (1024, 1024), (1024,) * 4)


def _sweep_cases() -> dict[str, tuple[Callable[[], None], float]]:
    X = np.random.default_rng(1).normal(size=(BATCH, 100)).astype(np.float32)
    out = {}
    for hidden in SWEEP:
        m = _model(100, hidden)
        params = sum(p.numel() for p in m.parameters())
        out["x".join(map(str, hidden))] = (_pass(m, [X]), 2.0 * params * BATCH)
    return out


def _row(name: str, load: str, threads: str, s: list[float], flops: float) -> str:
    a = np.asarray(s) * 1e3
    return (f"| {name} | {flops / 1e6:,.0f} | {load} | {threads} | {np.median(a):.3g} | "
            f"{np.percentile(a, 90):.3g} | {a.max():.3g} |")


def main(small_reps: int = 300, big_reps: int = 3, sweep_reps: int = 15) -> None:
    cases = {**_cases(), **_sweep_cases()}
    reps = {name: sweep_reps for name in cases} | {"small": small_reps, "big": big_reps}
    cases = {name: c for name, c in cases.items() if reps[name] > 0}
    print(f"torch {torch.__version__}, default intra-op threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} cores; load average before {os.getloadavg()[0]:.2f}")
    print("| model | MFLOP / largest batch | load | threads | median ms | p90 ms | worst ms |")
    print("|---|---:|---|---|---:|---:|---:|")
    for load in ("quiet", "one core busy"):
        spinner = None
        if load != "quiet":
            spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(1.0)
        try:
            for name, (run, flops) in cases.items():
                times = _time(run, reps[name])
                for threads in ("default", "one"):
                    print(_row(name, load, threads, times[threads], flops), flush=True)
        finally:
            if spinner is not None:
                spinner.kill()
                spinner.wait()
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
