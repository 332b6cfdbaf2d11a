"""Shared fixtures: scenarios are built once per test session and reused read-only.

Hypothesis profiles for every property test: ``default`` (fast, ``make test``), ``fuzz``
(``make fuzz``) and ``explore``. ``default`` and ``fuzz`` are derandomized, so a gate (CI)
replays exactly the examples that passed when the change was made instead of failing at
random on a new one; ``explore`` (``HYPOTHESIS_PROFILE=explore``) searches with fresh random
examples — run it by hand and turn what it finds into fixes and regression tests.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

# conftest files hold fixtures and no doctests; under --doctest-modules each would also be
# collected as a module named "conftest", and the nested ones (tests/audit/lm, tests/audit/bios)
# would clash with this one
collect_ignore_glob = ["conftest.py", "*/conftest.py", "*/*/conftest.py"]

_HYPOTHESIS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("default", max_examples=40, derandomize=True, **_HYPOTHESIS)
settings.register_profile("fuzz", max_examples=1500, derandomize=True, **_HYPOTHESIS)
settings.register_profile("explore", max_examples=5000, **_HYPOTHESIS)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def write_variant(case_dir: Path, dest: Path, **models: str) -> Path:
    """Copy a case directory and rewrite model entries of its case.toml.

    ``write_variant(d, tmp, unlearned="original.pt")`` makes the no-op case.
    """
    shutil.copytree(case_dir, dest)
    text = (dest / "case.toml").read_text()
    lines = []
    for line in text.splitlines():
        key = line.split("=")[0].strip()
        if key in models:
            line = f'{key} = "{models[key]}"'
        lines.append(line)
    (dest / "case.toml").write_text("\n".join(lines) + "\n")
    return dest / "case.toml"


def run_cli(case: Path, out: Path) -> tuple[int, dict]:
    """``unlearn-audit run CASE --out OUT``: the exit code and the validated results.json."""
    import json

    from typer.testing import CliRunner

    from audit.cli.app import app
    from reports import validate_results

    res = CliRunner().invoke(app, ["run", str(case), "--out", str(out), "--format", "json"])
    results = json.loads((out / "results.json").read_text())
    validate_results(results)
    return res.exit_code, results


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from audit.scenarios import build_scenario

    d = tmp_path_factory.mktemp("digits")
    build_scenario("digits", d, seed=0)
    return d


@pytest.fixture(scope="session")
def accent_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The accent scenario, built once per session (read-only for tests)."""
    from audit.scenarios import build_scenario

    d = tmp_path_factory.mktemp("accent")
    assert build_scenario("accent", d, seed=0) == d / "case.toml"
    return d


def _tiny_frame(seed: int = 0, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=n) > 0).astype(int)
    split = np.array(["forget"] * 40 + ["retain"] * 160 + ["test"] * 100, dtype=object)
    return pd.DataFrame({
        "row_id": [f"r{i}" for i in range(n)],
        "f0": X[:, 0], "f1": X[:, 1], "f2": X[:, 2], "f3": X[:, 3],
        "school": rng.choice(["north", "south"], size=n),
        "label": y, "split": split,
    })


TINY_FEATURES = ["f0", "f1", "f2", "f3"]
TINY_CASE_TOML = (
    '[case]\nname = "tiny"\n\n[models]\noriginal = "original.skops"\n'
    'unlearned = "unlearned.skops"\nretrained = ["retrained-0.skops", "retrained-1.skops"]\n\n'
    '[data]\npath = "data.csv"\nlabel = "label"\nsplit = "split"\ngroups = ["school"]\n'
    'id = "row_id"\n'
)


def write_tiny_case(d: Path) -> Path:
    """Write the small binary case (scikit-learn models in .skops files) into ``d``; return ``d``."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    df = _tiny_frame()
    train = df["split"] != "test"
    retain = df["split"] == "retain"
    X, y = df[TINY_FEATURES].to_numpy(), df["label"].to_numpy()
    sio.dump(LogisticRegression().fit(X[train], y[train]), d / "original.skops")
    for i, c in enumerate((1.0, 0.5)):
        sio.dump(LogisticRegression(C=c).fit(X[retain], y[retain]), d / f"retrained-{i}.skops")
    sio.dump(LogisticRegression(C=0.8).fit(X[retain], y[retain]), d / "unlearned.skops")
    df.to_csv(d / "data.csv", index=False)
    (d / "case.toml").write_text(TINY_CASE_TOML)
    return d


DIGITS_METHOD_RECIPE = {"hidden": [16], "epochs": 6, "lr": 0.01, "batch_size": 128}


def write_digits_method_case(d: Path) -> Path:
    """A digits case for method audits (scikit-learn's handwritten digits) in ``d``; return its case file.

    The case's own models are quick logistic regressions: a method audit trains its own O, U
    and R with the case's ``torch-mlp`` recipe (:data:`DIGITS_METHOD_RECIPE`).
    """
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    from audit.scenarios.digits import digits_frame

    df = digits_frame(seed=0)
    feats = [c for c in df.columns if c.startswith("px")]
    keep = df["split"] == "retain"
    model = LogisticRegression(max_iter=500).fit(df.loc[keep, feats].to_numpy(), df.loc[keep, "label"])
    for name in ("original", "unlearned", "retrained-0"):
        sio.dump(model, d / f"{name}.skops")
    df.to_csv(d / "data.csv", index=False)
    params = ", ".join(f"{k} = {v}" for k, v in DIGITS_METHOD_RECIPE.items())
    (d / "case.toml").write_text(
        '[case]\nname = "digits-methods"\n\n[models]\noriginal = "original.skops"\n'
        'unlearned = "unlearned.skops"\nretrained = ["retrained-0.skops"]\n\n[data]\npath = "data.csv"\n'
        'label = "label"\nsplit = "split"\nid = "image_id"\n\n'
        f'[training]\nrecipe = "torch-mlp"\nparams = {{ {params} }}\n')
    return d / "case.toml"


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small binary case with scikit-learn models in .skops files (fast)."""
    return write_tiny_case(tmp_path_factory.mktemp("tiny"))


@pytest.fixture()
def tiny_frame() -> pd.DataFrame:
    return _tiny_frame()


@pytest.fixture(scope="session")
def stream_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``stream`` scenario with two requests (10 % of the training rows each), built once.

    Trained 40 epochs (the scenario's default is 20): the original memorises enough that every
    step has power, which the genuine-retrain known answer needs (a pass needs power).
    """
    from audit.scenarios.stream import build_stream

    d = tmp_path_factory.mktemp("stream") / "stream"
    build_stream(d, seed=0, n_requests=2, epochs=40)
    return d


@pytest.fixture(scope="session")
def known_answer_cell(tmp_path_factory: pytest.TempPathFactory):
    """``known_answer_cell(dataset, family, kind, seed)``: a calibration cell with its ``retrain`` and
    ``reexported_noop`` variants, trained once per session and shared by every test file that uses
    it (``test_known_answers_seeds``, ``test_check_template``). Read-only for tests."""
    from functools import cache

    from audit.calibration.grid import quick_grid
    from audit.calibration.variants import build_cell

    root = tmp_path_factory.mktemp("known-answer-cells")

    @cache
    def build(dataset: str, family: str, kind: str, seed: int):
        cell = next(c for c in quick_grid(seeds=seed + 1)
                    if (c.dataset, c.family, c.kind, c.seed) == (dataset, family, kind, seed))
        return build_cell(cell, root / f"{dataset}-{family}-{kind}-{seed}", variants=("retrain", "reexported_noop"))

    return build


@pytest.fixture(scope="session")
def digits_shipped_run(digits_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict]:
    """``unlearn-audit run`` on the digits scenario as shipped (its approximate unlearned model),
    seed 0: the exit code and results.json. Run once for the known-answer and the report tests."""
    return run_cli(digits_dir / "case.toml", tmp_path_factory.mktemp("digits-shipped") / "pack")


@pytest.fixture(scope="session")
def digits_retrain_ui(digits_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """``unlearning_inference`` (default policy, seed 0) on digits with a retrain posing as U,
    run once for the files that check it (treat as read-only)."""
    from tests.audit._mia_helpers import run_check

    case = write_variant(digits_dir, tmp_path_factory.mktemp("ui-retrain") / "case",
                         unlearned="extra/retrained-other-seed.pt")
    return run_check(case, "unlearning_inference")
