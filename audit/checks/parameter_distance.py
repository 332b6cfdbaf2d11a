"""``parameter_distance``: how far U's weights are from the references' (Wu et al. 2020).

Needs parameters with matching names and shapes in U, O and every R; otherwise the
check is ``skipped`` with the reason. Reports L2, relative L2 (||a-b|| / ||b||) and
cosine similarity of the flattened weights, overall and per layer, against the same
distances between pairs of references. Models trained from different random
initialisations are far apart in weight space whatever the data, so this check is
informative rather than decisive and is not required by default.
"""

from __future__ import annotations

import itertools

import numpy as np

from audit.checks._paired import finish
from audit.checks.base import CheckContext, CheckSpec
from audit.core.decision import Evidence, ModelStat
from audit.core.options import Option, switches
from audit.core.results import CheckResult, Metric, Table

__all__ = ["SPEC", "run", "flat_distances"]


def flat_distances(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    """L2, relative L2 (to ``b``) and cosine similarity of two parameter dicts.

    Parameters
    ----------
    a, b : dict of str to ndarray
        Parameters by name (the names both hold are compared).

    Returns
    -------
    dict of str to float
        ``l2``, ``rel_l2`` and ``cosine``.

    Examples
    --------
    >>> flat_distances({"w": np.array([3.0, 4.0])}, {"w": np.zeros(2)})["l2"]
    5.0
    """
    va = np.concatenate([a[k].ravel() for k in sorted(a)])
    vb = np.concatenate([b[k].ravel() for k in sorted(b)])
    diff = float(np.linalg.norm(va - vb))
    nb, na = float(np.linalg.norm(vb)), float(np.linalg.norm(va))
    return {
        "l2": diff,
        "relative_l2": diff / nb if nb > 0 else float("nan"),
        "cosine": float(va @ vb / (na * nb)) if na > 0 and nb > 0 else float("nan"),
    }


def _params(ctx: CheckContext) -> tuple[dict[str, dict[str, np.ndarray]], str | None]:
    out = {}
    for role, model in ctx.case.models.items():
        getter = getattr(model, "parameters", None)
        params = getter() if callable(getter) else None
        if not params:
            return {}, f"{ctx.case.field_of(role)} exposes no parameters"
        out[role] = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    first = next(iter(out.values()))
    shape = {k: v.shape for k, v in first.items()}
    for role, p in out.items():
        if {k: v.shape for k, v in p.items()} != shape:
            return {}, f"{ctx.case.field_of(role)} has different parameter names or shapes"
    return out, None


def _evidence(ctx: CheckContext, params: dict, key: str) -> Evidence:
    """Mean distance of each model to the references (a reference to the *other* ones)."""
    refs = ctx.case.reference_roles
    roles = ["unlearned", "original", *refs]
    val = {c: float(np.mean([flat_distances(params[c], params[r])[key] for r in refs if r != c]))
           for c in roles}
    st = {c: ModelStat(v, np.full(1, v)) for c, v in val.items()}
    level = float(np.mean([val[r] for r in refs]))
    return Evidence(key, "parameters", st["unlearned"], [st[r] for r in refs], st["original"], "at_most",
                    float(ctx.policy["auto_factor"]) * level, None,
                    "each retrained reference's distance to the other references (leave-one-out)",
                    note="no row resampling: the spread comes from the references alone", relative=True)


def run(ctx: CheckContext) -> CheckResult:
    """Distances U-R and O-R against R-R, overall and per layer.

    Parameters
    ----------
    ctx : CheckContext
        The case, the output cache, this check's policy and its seeded rng.

    Returns
    -------
    CheckResult
        Gated metrics decided by the kernel (:func:`audit.checks._paired.finish`), findings,
        tables and figures.
    """
    params, reason = _params(ctx)
    if reason:
        return CheckResult(id="parameter_distance", title=SPEC.title, status="skipped",
                           summary=f"Parameter distance not measured: {reason}.", missing=[reason])
    refs = ctx.case.reference_roles
    pairs = list(itertools.combinations(refs, 2))
    need = int(ctx.policy["min_references_for_ci"])
    if len(refs) < need:
        return CheckResult(id="parameter_distance", title=SPEC.title, status="inconclusive",
                           summary=f"{len(refs)} retrained references are too few; {need} needed.",
                           missing=[f"at least {need} retrained references"],
                           tables=[_layer_table(params, refs, pairs)])
    evidence = [_evidence(ctx, params, key) for key in ("l2", "relative_l2")]
    u_r = [flat_distances(params["unlearned"], params[r]) for r in refs]
    r_r = [flat_distances(params[a], params[b]) for a, b in pairs]
    info = [Metric("cosine", "parameters", float(np.mean([d["cosine"] for d in u_r])),
                   reference=float(np.mean([d["cosine"] for d in r_r])), comparator="info", n=len(refs))]
    return finish(ctx, "parameter_distance", SPEC.title, evidence, info, _summary,
                  tables=[_layer_table(params, refs, pairs)],
                  notes=["Different random initialisations put retrains far apart in weight "
                         "space; treat this check as context, not proof."])


def _layer_table(params: dict, refs: list[str], pairs: list[tuple[str, str]]) -> Table:
    rows = []
    for name in sorted(params["unlearned"]):
        def dist(a: str, b: str, name: str = name) -> float:
            return float(np.linalg.norm(params[a][name] - params[b][name]))
        rows.append([
            name,
            int(params["unlearned"][name].size),
            float(np.mean([dist("unlearned", r) for r in refs])),
            float(np.mean([dist("original", r) for r in refs])),
            float(np.mean([dist(a, b) for a, b in pairs])) if pairs else None,
        ])
    return Table("per-layer L2 distance", ["layer", "size", "U-R", "O-R", "R-R"], rows)


def _summary(status: str, metrics: list[Metric]) -> str:
    m = metrics[0]
    ref = "n/a" if m.reference is None else f"{m.reference:.4g}"
    base = f"Mean L2 distance of U to the references is {m.value:.4g} (references to each other: {ref})."
    if status == "pass":
        return base + " U sits within the retrain noise floor."
    if status == "fail":
        return base + " U is further from the references than the policy allows."
    return base + " Too few references to decide."


SPEC = CheckSpec(
    id="parameter_distance",
    title="Parameter distance to retrained models",
    run=run,
    kind="forgetting",
    order=30,
    tasks=("classification", "regression"),  # model-agnostic: weights only
    options={
        **switches(required=False),
        "auto_factor": Option(float, 1.0, "margin = auto_factor x the mean R-R distance",
                              minimum=0, exclusive_minimum=True, tighter="lower"),
        "min_references_for_ci": Option(int, 3, "references needed for a confidence interval",
                                        minimum=2),
    },
)
