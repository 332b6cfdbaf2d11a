"""Reviewed skops types can be trusted by name in the case file (issue 13, item 4)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from audit.cli.app import app
from audit.core.case_file import load_case
from audit.shared.errors import BadInput

TREE_PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"


@pytest.fixture(scope="module")
def hgb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import skops.io as sio
    from sklearn.ensemble import HistGradientBoostingClassifier

    d = tmp_path_factory.mktemp("hgb")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(360, 3))
    df = pd.DataFrame(X, columns=["x0", "x1", "x2"])
    df["label"] = (X[:, 0] + 0.5 * rng.normal(size=360) > 0).astype(int)
    df["split"] = np.repeat(["forget", "retain", "test"], [60, 180, 120])
    df.to_csv(d / "data.csv", index=False)
    train, retain = df[df.split != "test"], df[df.split == "retain"]
    feats = ["x0", "x1", "x2"]
    for name, rows, seed in [("original", train, 0), ("unlearned", retain, 1),
                             ("retrained-0", retain, 2), ("retrained-1", retain, 3)]:
        model = HistGradientBoostingClassifier(max_iter=10, random_state=seed).fit(rows[feats], rows["label"])
        sio.dump(model, d / f"{name}.skops")
    return d


def _case(d: Path, trusted: str = "") -> Path:
    path = d / "case.toml"
    path.write_text(f"""
[models]
original = "original.skops"
unlearned = "unlearned.skops"
retrained = ["retrained-0.skops", "retrained-1.skops"]
{trusted}

[data]
path = "data.csv"

[policy.general]
n_bootstrap = 200
""")
    return path


def test_refusal_lists_the_untrusted_type_and_the_line_to_add(hgb_dir: Path) -> None:
    import skops.io as sio

    assert sio.get_untrusted_types(file=str(hgb_dir / "original.skops")) == [TREE_PREDICTOR]
    with pytest.raises(BadInput) as err:
        load_case(_case(hgb_dir))
    assert err.value.field == "models.original"
    assert TREE_PREDICTOR in err.value.message
    line = re.search(r"trusted_types = \[.*\]", err.value.message)
    assert line is not None and line.group(0) == f'trusted_types = ["{TREE_PREDICTOR}"]'


def test_the_suggested_line_loads_and_audits(hgb_dir: Path, tmp_path: Path) -> None:
    import json

    with pytest.raises(BadInput) as err:
        load_case(_case(hgb_dir))
    line = re.search(r"trusted_types = \[.*\]", err.value.message).group(0)  # type: ignore[union-attr]
    case_file = _case(hgb_dir, trusted=line)
    res = CliRunner().invoke(app, ["run", str(case_file), "--out", str(tmp_path / "o"), "--format", "json"])
    assert res.exit_code in (0, 1, 3), res.output
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert results["trusted_types"] == [TREE_PREDICTOR]
    assert results["models"]["unlearned"]["trusted_types"] == [TREE_PREDICTOR]
    assert {c["status"] for c in results["checks"]} - {"pass", "warn", "fail", "inconclusive", "skipped"} == set()


def test_trusting_another_type_does_not_trust_this_one(hgb_dir: Path) -> None:
    with pytest.raises(BadInput) as err:
        load_case(_case(hgb_dir, trusted='trusted_types = ["mypkg.Reviewed"]'))
    assert f'trusted_types = ["mypkg.Reviewed", "{TREE_PREDICTOR}"]' in err.value.message


def test_trusted_types_must_be_dotted_names(hgb_dir: Path) -> None:
    with pytest.raises(BadInput) as err:
        load_case(_case(hgb_dir, trusted="trusted_types = true"))
    assert err.value.field == "models.trusted_types"
