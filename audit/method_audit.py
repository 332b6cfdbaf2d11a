"""Method audit: run unlearning methods x seeds under control and compare them side by side.

For every seed the case's training rows are re-used with a *planted signal* (Izzo 2021's
injected feature, which doubles as an Athena backdoor canary): one extra column is
``inject_value`` on the forget rows and 0 elsewhere, and the forget rows are relabelled
to one target class, so only the forget rows teach "feature on -> target". Per seed:

* ``O`` = the recipe trained on forget + retain (SISA / FedAvg methods train their own
  original of that architecture); ``R`` = the recipe trained on retain only;
* each method turns its ``O`` into ``U``; we measure accuracy on retain / test (paired with
  R, pooled rows), the loss-attack AUC gap to R (forget vs test), KL(R || U), the
  injection ratio (attribution: target log-prob drop when the feature is zeroed, U / O),
  the canary test on triggered test rows (exact two-sample test of U's hits against R's), wall time of
  the method and of the retrain, and storage overhead.

Across seeds (:mod:`audit.method_attacks`): leave-one-seed-out U-LiRA on the forget rows
(Hayes 2024; >= 3 seeds) and the NeurIPS-2023 challenge epsilon U vs R next to R vs R
(>= 4 seeds).

Each method becomes one check ``method_<name>``; ``method_comparison`` holds the
side-by-side table. The controls ``retrain`` and ``noop`` are reported, not required.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score

from attacks.population import logit_confidence
from audit.cache import normalise_logits
from audit.canary import canary_two_sample_test
from audit.case import AuditCase
from audit.checks._paired import paired_metric
from audit.errors import BadInput
from audit.injection import attribution_ratio
from audit.method_report import build_results
from audit.methods import METHODS, unlearn
from audit.methods.fedavg import train_fedavg
from audit.methods.sisa import train_sisa
from audit.recipes import get_recipe

__all__ = ["run_method_audit", "METHOD_DEFAULTS", "DEFAULT_METHODS"]

DEFAULT_METHODS = ["retrain", "noop", "finetune", "gradient_ascent", "random_labels", "sisa"]
CONTROLS = ("retrain", "noop")
METHOD_DEFAULTS: dict[str, Any] = {
    "alpha": 0.05, "n_bootstrap": 500, "accuracy_margin": 0.03, "mia_margin": 0.05,
    "injection_margin": 0.1, "canary_alpha": 1e-3, "n_queries": 100, "inject_value": 3.0,
    "sisa_shards": 5, "sisa_slices": 3, "fed_clients": 5, "ulira_margin": 0.1,
}


@dataclass
class _Ctx:  # what paired_metric needs
    rng: np.random.Generator
    n_boot: int
    alpha: float
    seed: int = 0  # fixes the R-vs-R split of the challenge estimate: one floor for every method


def _planted(case: AuditCase, value: float) -> dict[str, Any]:
    counts = np.bincount(case.y("retain"), minlength=case.n_classes)
    target = int(np.argmin(counts))
    aug = {s: np.c_[case.X(s), np.full(case.n[s], value if s == "forget" else 0.0)].astype(np.float32)
           for s in ("forget", "retain", "test")}
    y = {s: case.y(s).copy() for s in ("forget", "retain", "test")}
    y["forget"][:] = target
    trig = aug["test"].copy()
    trig[:, -1] = value
    return {"X": aug, "y": y, "target": target, "trigger": trig, "k": case.n_classes}


def _original(method: str, d: dict[str, Any], recipe: Any, seed: int, pol: dict[str, Any]) -> Any:
    Xtr = np.concatenate([d["X"]["forget"], d["X"]["retain"]])
    ytr = np.concatenate([d["y"]["forget"], d["y"]["retain"]])
    p = dict(recipe.params)
    hidden = tuple(p.get("hidden", (64,)))
    lr, epochs = float(p.get("lr", 1e-3)), int(p.get("epochs", 30))
    if method == "sisa":
        return train_sisa(Xtr, ytr, d["k"], seed, n_shards=pol["sisa_shards"], n_slices=pol["sisa_slices"],
                          hidden=hidden, lr=lr, epochs_per_slice=max(1, epochs // pol["sisa_slices"]))
    if method.startswith("fedavg"):
        parts = np.array_split(np.arange(len(d["y"]["retain"])), pol["fed_clients"] - 1)
        clients = [(d["X"]["forget"], d["y"]["forget"])] + [(d["X"]["retain"][i], d["y"]["retain"][i]) for i in parts]
        return train_fedavg(clients, d["k"], seed, rounds=10, local_epochs=max(1, epochs // 10), lr=lr, hidden=hidden)
    return recipe.fit(Xtr, ytr, d["k"], seed)


def _outputs(model: Any, d: dict[str, Any]) -> dict[str, np.ndarray]:
    out = {}
    for s in ("forget", "retain", "test"):
        lp = normalise_logits(model.predict_logits(d["X"][s]))
        out[f"lp:{s}"] = lp
        out[f"loss:{s}"] = -lp[np.arange(len(lp)), d["y"][s]]
        out[f"correct:{s}"] = (lp.argmax(1) == d["y"][s]).astype(float)
    out["phi:forget"] = logit_confidence(out["lp:forget"], d["y"]["forget"])  # U-LiRA / challenge statistic
    out["trigger_hit"] = (model.predict_logits(d["trigger"]).argmax(1) == d["target"]).astype(float)
    return out


def _mia_auc(o: dict[str, np.ndarray]) -> float:
    scores = np.r_[-o["loss:forget"], -o["loss:test"]]
    labels = np.r_[np.ones(len(o["loss:forget"])), np.zeros(len(o["loss:test"]))]
    return float(roc_auc_score(labels, scores))


def _kl(r: dict[str, np.ndarray], u: dict[str, np.ndarray], split: str) -> np.ndarray:
    lr, lu = r[f"lp:{split}"], u[f"lp:{split}"]
    return (np.exp(lr) * (lr - lu)).sum(axis=1)


def _one_seed(method: str, d: dict, recipe: Any, seed: int, ref: Any, ref_out: dict, ref_secs: float,
              pol: dict) -> dict[str, Any]:
    original = _original(method, d, recipe, 1000 + seed, pol)
    forget, retain = (d["X"]["forget"], d["y"]["forget"]), (d["X"]["retain"], d["y"]["retain"])
    res = unlearn(method, original, forget, retain, recipe, seed=2000 + seed)
    u, o = _outputs(res.model, d), _outputs(original, d)
    ratio = {name: attribution_ratio(m.predict_logits, original.predict_logits, d["X"]["forget"], d["y"]["forget"])
             for name, m in (("u", res.model), ("r", ref))}
    n_q = min(int(pol["n_queries"]), len(u["trigger_hit"]))
    hits = {k: int(v["trigger_hit"][:n_q].sum()) for k, v in (("u", u), ("r", ref_out))}
    canary = canary_two_sample_test(hits["u"], n_q, hits["r"], n_q, pol["canary_alpha"],
                                    p=float(o["trigger_hit"][:n_q].mean()))
    storage = res.storage_bytes or int(getattr(res.model, "storage_bytes", 0) or 0)
    return {"u": u, "r": ref_out, "mia_u": _mia_auc(u), "mia_r": _mia_auc(ref_out), "ratio_u": ratio["u"],
            "ratio_r": ratio["r"], "canary": canary, "seconds": res.seconds, "retrain_seconds": ref_secs,
            "storage": storage, "extra": res.extra}


def _seed_metric(name: str, u: list[float], r: list[float], margin: float, alpha: float) -> dict[str, Any]:
    """Metric over seeds: CI of the per-seed difference by Student's t at 1 - 2*alpha."""
    from audit.results import Metric
    from audit.stats import equivalence_status

    u_arr, r_arr = np.asarray(u, float), np.asarray(r, float)
    delta = u_arr - r_arr
    n = len(delta)
    ci = dci = rci = None
    status = "inconclusive"
    if n >= 2:
        t = stats.t.ppf(1 - alpha, n - 1)
        half = lambda a: t * a.std(ddof=1) / np.sqrt(n)  # noqa: E731
        ci = (u_arr.mean() - half(u_arr), u_arr.mean() + half(u_arr))
        rci = (r_arr.mean() - half(r_arr), r_arr.mean() + half(r_arr))
        dci = (delta.mean() - half(delta), delta.mean() + half(delta))
        status = equivalence_status(dci, margin, "two_sided")
    return Metric(name, "seeds", float(u_arr.mean()), ci=ci, reference=float(r_arr.mean()), reference_ci=rci,
                  delta=float(delta.mean()), delta_ci=dci, margin=margin, comparator="two_sided", n=n,
                  status=status, note=None if n >= 2 else "one seed: run more seeds to decide")


def run_method_audit(
    case: AuditCase, methods: list[str] | None = None, seeds: list[int] | None = None, seed: int = 0,
    recipe: Any = None, policy: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``methods`` x ``seeds`` on ``case`` and return a results dict (mode ``method``).

    Examples
    --------
    >>> from audit.case import load_case                                   # doctest: +SKIP
    >>> res = run_method_audit(load_case("digits/case.toml"), ["retrain", "noop"], [0, 1])  # doctest: +SKIP
    >>> [c["status"] for c in res["checks"]]                               # doctest: +SKIP
    """
    pol = {**METHOD_DEFAULTS, **(policy or {})}
    unknown = set(policy or {}) - set(METHOD_DEFAULTS)
    if unknown:
        raise BadInput("policy", f"unknown method-audit keys {sorted(unknown)}")
    methods = list(methods or DEFAULT_METHODS)
    for m in methods:
        if m not in METHODS:
            raise BadInput("methods", f"unknown method {m!r}; available: {sorted(METHODS)}")
    seeds = list(seeds if seeds is not None else [0, 1, 2])
    if not seeds:
        raise BadInput("seeds", "need at least one seed")
    if recipe is None:
        if not case.recipe:
            raise BadInput("training.recipe", "a method audit needs a training recipe ([training] in the case)")
        recipe = get_recipe(case.recipe, case.recipe_params, original=case.models["original"])
    started = time.time()
    d = _planted(case, float(pol["inject_value"]))
    refs = []
    for s in seeds:
        t0 = time.perf_counter()
        ref = recipe.fit(d["X"]["retain"], d["y"]["retain"], d["k"], 10_000 + s)
        refs.append((ref, _outputs(ref, d), time.perf_counter() - t0))
    runs: dict[str, list[dict[str, Any]] | str] = {}
    for m in methods:
        try:
            runs[m] = [_one_seed(m, d, recipe, s, *refs[i], pol) for i, s in enumerate(seeds)]
        except BadInput as exc:
            runs[m] = exc.message
    ctx = _Ctx(np.random.default_rng(seed), int(pol["n_bootstrap"]), float(pol["alpha"]), int(seed))
    return build_results(case, runs, seeds, seed, pol, ctx, d, started,
                         helpers={"paired_metric": paired_metric, "seed_metric": _seed_metric, "kl": _kl})
