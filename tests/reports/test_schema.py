"""The JSON schema accepts what the engine emits and rejects what breaks the contract."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from reports import SchemaError, validate_results
from tests.reports.fixtures import sample_results


def test_hand_built_results_validate() -> None:
    validate_results(sample_results())


def test_real_run_results_validate(real_run: tuple[dict[str, Any], Path]) -> None:
    results, pack = real_run
    validate_results(results)
    validate_results(json.loads((pack / "results.json").read_text("utf-8")))


def test_every_results_json_written_by_the_tests_validates(signed_pack: Path) -> None:
    validate_results(json.loads((signed_pack / "results.json").read_text("utf-8")))


def _mutate(path: list[Any], value: Any) -> dict[str, Any]:
    r = copy.deepcopy(sample_results())
    node = r
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return r


@pytest.mark.parametrize(("path", "value"), [
    (["verdict"], "maybe"),
    (["verdict"], KeyError),
    (["checks", 0, "status"], "passed"),
    (["checks", 0, "metrics", 0, "value"], "0.51"),           # numbers stay numbers
    (["checks", 0, "metrics", 0, "ci"], [0.4]),
    (["checks", 0, "metrics", 0, "delta_ci"], KeyError),
    (["checks", 1, "findings", 0, "p_adjusted"], 1.5),
    (["checks", 0, "figures", 0, "kind"], "pie"),
    (["checks", 0, "figures", 0, "data"], {"rows": []}),       # a roc without curves
    (["models", "unlearned", "sha256"], "not-a-digest"),
    (["models", "retrained"], []),
    (["data", "n", "forget"], -1),
    (["schema_version"], "2.0"),
])
def test_contract_violations_are_rejected(path: list[Any], value: Any) -> None:
    with pytest.raises(SchemaError, match="results.json invalid"):
        validate_results(_mutate(path, value))
