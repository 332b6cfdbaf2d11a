"""Dask: references, shadows and `run --dask` on a LocalCluster give what this process gives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from audit.cli.app import app
from audit.core.model_objects import SklearnModel
from audit.shared.errors import BadInput
from audit.training import cluster
from audit.training.recipes import get_recipe
from audit.training.references import reference_seeds, train_references
from audit.training.shadows import train_shadows

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def local_cluster():
    # threads, not processes: the same code path (joblib's Dask backend, 2 workers) without
    # paying two interpreter start-ups per test module; the benchmark uses processes
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as lc:
        yield lc.scheduler_address


@pytest.fixture(scope="module")
def digits():
    ds = load_digits()
    return (ds.data[:400] / 16.0).astype(np.float32), ds.target[:400]


def _logits(models, X):
    return np.stack([m.predict_logits(X) for m in models])


def test_torch_references_split_over_two_workers_are_bit_identical(local_cluster, digits) -> None:
    X, y = digits
    recipe = get_recipe("torch-mlp", {"hidden": [16], "epochs": 2})
    seeds = reference_seeds(0, 4)
    here = train_references(recipe, X, y, 10, seeds)
    with cluster.compute_on(local_cluster):
        assert cluster.describe() == {"backend": "dask", "workers": 2}
        there = train_references(recipe, X, y, 10, seeds)
    np.testing.assert_array_equal(_logits(there, X), _logits(here, X))
    assert [m.sha256 for m in there] == [m.sha256 for m in here]


def test_sklearn_references_and_torch_shadows_on_the_cluster_equal_local(local_cluster, digits) -> None:
    X, y = digits
    sk = get_recipe("sklearn", original=SklearnModel(LogisticRegression(max_iter=300)))
    mlp = get_recipe("torch-mlp", {"hidden": [16], "epochs": 2})
    subs = [np.arange(0, 200), np.arange(200, 400), np.arange(100, 300)]
    here_refs = train_references(sk, X, y, 10, [1, 2, 3])
    here_sh = train_shadows(mlp, X, y, subs, [4, 5, 6], 10)
    with cluster.compute_on(local_cluster):
        there_refs = train_references(sk, X, y, 10, [1, 2, 3])
        there_sh = train_shadows(mlp, X, y, subs, [4, 5, 6], 10)
    # a scikit-learn fit may use another BLAS thread count on a worker: equal to rounding
    np.testing.assert_allclose(_logits(there_refs, X), _logits(here_refs, X), atol=1e-6)
    np.testing.assert_array_equal(there_sh.logp, here_sh.logp)
    assert there_sh.trained == 3


def test_unreachable_scheduler_is_bad_input_naming_the_flag() -> None:
    with pytest.raises(BadInput) as err, cluster.compute_on("tcp://127.0.0.1:9", timeout=1):
        pass
    assert err.value.field == "--dask" and "127.0.0.1:9" in str(err.value)


def test_missing_distributed_package_is_bad_input(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(BadInput, match="unlearn-audit\\[dask\\]"), cluster.compute_on("tcp://x:1"):
        pass


def _case_with_references(tiny_dir: Path, dest: Path) -> Path:
    shutil.copytree(tiny_dir, dest)
    toml = dest / "case.toml"
    toml.write_text(toml.read_text() + '\n[training]\nrecipe = "sklearn"\n\n[references]\ntrain = 2\n')
    return toml


def _decisions(results: dict) -> list:
    return [(c["id"], c["status"], [(m["name"], m.get("split"), m["value"]) for m in c["metrics"]])
            for c in results["checks"]]


def test_run_on_the_cluster_records_it_and_decides_as_here(local_cluster, tiny_dir, tmp_path) -> None:
    case = _case_with_references(tiny_dir, tmp_path / "case")
    key = tmp_path / "key"
    runner = CliRunner()
    outs = {}
    for name, flag in (("here", ""), ("there", local_cluster)):
        res = runner.invoke(app, ["run", str(case), "--out", str(tmp_path / name), "--formats", "json",
                                  "--commitment-key", str(key), "--dask", flag, "--quiet"])
        assert res.exit_code in (0, 1, 3), res.output
        outs[name] = json.loads((tmp_path / name / "results.json").read_text())
    assert outs["here"]["environment"]["compute"] == {"backend": "local", "workers": 1}
    assert outs["there"]["environment"]["compute"] == {"backend": "dask", "workers": 2}
    assert _decisions(outs["there"]) == _decisions(outs["here"])
    assert outs["there"]["verdict"] == outs["here"]["verdict"]


def test_run_with_an_unreachable_scheduler_exits_2_and_writes_nothing(tiny_dir, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(cluster, "compute_on", _quick(cluster.compute_on))
    res = CliRunner().invoke(app, ["run", str(tiny_dir / "case.toml"), "--out", str(tmp_path / "out"),
                                   "--dask", "tcp://127.0.0.1:9", "--quiet"])
    assert res.exit_code == 2, res.output
    assert "--dask" in res.output
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("*.commitment-key"))


def _quick(compute_on):  # noqa: ANN001, ANN202 - the same context manager with a 1 s connect timeout
    def wrapped(address, field="--dask", timeout=1.0):  # noqa: ANN001, ANN202
        return compute_on(address, field, timeout)
    return wrapped
