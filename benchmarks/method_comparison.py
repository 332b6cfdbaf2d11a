"""The README's method comparison table: every baseline, with the forget kind it supports.

Usage::

    nice python -m benchmarks.method_comparison --out /tmp/method-comparison [--seeds 0,1,2] [--render-only]

Four method audits (``audit.lab.method_audit.run_method_audit``), each results.json kept in ``--out``:

* ``digits-class`` — digits, class 3 removed whole (``forget_kind = "class"``), the torch MLP
  (128 hidden units, 40 epochs): every torch baseline plus ``unsir`` and ``gkt``;
* ``digits-random`` — the same digits case with its random forget rows and the planted signal;
* ``cancer-logreg`` — breast cancer (binary), random forget rows, the ``logreg`` recipe:
  ``newton`` and ``influence``;
* ``cancer-bayes`` — the same rows, the ``bayes-logreg`` recipe: ``vbu`` (EUBO).

It prints one Markdown table built from the ``method_comparison`` tables (nothing is
computed here that the audits did not record). CPU-heavy: run it once, with ``nice``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TORCH = ["retrain", "noop", "finetune", "gradient_ascent", "random_labels", "sisa", "fedavg_retrain",
         "fedavg_recover"]
RUNS: dict[str, dict[str, Any]] = {
    "digits-class": {"case": "digits", "methods": [*TORCH, "unsir", "gkt"], "kind": "class", "cls": 3},
    "digits-random": {"case": "digits", "methods": TORCH, "kind": "random"},
    "cancer-logreg": {"case": "cancer", "recipe": "logreg", "methods": ["retrain", "noop", "newton", "influence"],
                      "kind": "random"},
    "cancer-bayes": {"case": "cancer", "recipe": "bayes-logreg", "methods": ["retrain", "noop", "vbu"],
                     "kind": "random"},
}
DIGITS_MLP = {"hidden": [128], "epochs": 40, "lr": 0.002, "batch_size": 32}
SHOWN = ["status", "power", "utility kept", "forget-class accuracy", "injection ratio", "forgetting status",
         "deciding metric", "deciding delta", "deciding band", "unlearn/retrain time", "storage bytes"]


def _cancer_case(d: Path) -> Path:
    """Breast cancer, standardised, 30 % test, a random 10 % of the training rows forgotten."""
    import skops.io as sio
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    ds = load_breast_cancer()
    X = (ds.data - ds.data.mean(0)) / ds.data.std(0)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    split = np.full(len(X), "retain", dtype=object)
    n_test = int(0.3 * len(X))
    split[order[:n_test]] = "test"
    split[order[n_test:n_test + int(0.1 * (len(X) - n_test))]] = "forget"
    df = pd.DataFrame(X, columns=[f"f{i:02d}" for i in range(X.shape[1])]).assign(label=ds.target, split=split)
    d.mkdir(parents=True, exist_ok=True)
    df.to_csv(d / "data.csv", index=False)
    model = LogisticRegression(max_iter=500).fit(X[split == "retain"], ds.target[split == "retain"])
    for name in ("original", "unlearned", "retrained-0"):
        sio.dump(model, d / f"{name}.skops")
    (d / "case.toml").write_text(
        '[case]\nname = "breast-cancer-methods"\n\n[models]\noriginal = "original.skops"\n'
        'unlearned = "unlearned.skops"\nretrained = ["retrained-0.skops"]\n\n[data]\npath = "data.csv"\n'
        'label = "label"\nsplit = "split"\n\n[training]\nrecipe = "logreg"\n')
    return d / "case.toml"


def _run(name: str, spec: dict[str, Any], seeds: list[int], tmp: Path) -> dict[str, Any]:
    from audit.core.case_file import load_case
    from audit.lab.method_audit import run_method_audit
    from audit.scenarios import build_scenario
    from audit.training.recipes import get_recipe

    if spec["case"] == "digits":
        case = load_case(build_scenario("digits", tmp / name))
        recipe = get_recipe("torch-mlp", DIGITS_MLP)
    else:
        case = load_case(_cancer_case(tmp / name))
        recipe = get_recipe(spec["recipe"])
    return run_method_audit(case, spec["methods"], seeds, seed=0, recipe=recipe, forget_kind=spec["kind"],
                            forget_class=spec.get("cls"))


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}"
    return str(v)


def render(results: dict[str, dict[str, Any]]) -> str:
    """One Markdown table over the runs' comparison tables (rebuilt from their method checks)."""
    from audit.lab.method_comparison import method_comparison

    head = ["run", "method", *SHOWN]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, res in results.items():
        lab = res["method_audit"]
        by_id = {c["id"]: c for c in res["checks"]}
        checks = [by_id[m["check_id"]] for m in lab["methods"]]
        table = method_comparison([m["name"] for m in lab["methods"]], checks, res["case"]["name"], lab["seeds"],
                                  lab["target_class"], lab.get("forget_kind", "random"))["tables"][0]
        for row in table["rows"]:
            cells = dict(zip(table["columns"], row, strict=True))
            if cells.get("deciding metric"):
                cells["deciding metric"] = cells["deciding metric"].split("[")[0]
            lines.append("| " + " | ".join([name, str(row[0]), *(_fmt(cells.get(c)) for c in SHOWN)]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True, help="directory for the runs' results.json")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--only", nargs="*", choices=list(RUNS))
    ap.add_argument("--render-only", action="store_true", help="re-render the table from --out")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    names = args.only or list(RUNS)
    if not args.render_only:
        with tempfile.TemporaryDirectory(prefix="method-comparison-") as tmp:
            for name in names:
                res = _run(name, RUNS[name], seeds, Path(tmp))
                (args.out / f"{name}.json").write_text(json.dumps(res, default=str))
    done = {n: json.loads((args.out / f"{n}.json").read_text()) for n in names if (args.out / f"{n}.json").exists()}
    print(render(done))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
