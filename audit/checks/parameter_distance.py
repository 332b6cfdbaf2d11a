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

from audit.checks.base import CheckContext, CheckSpec
from audit.checks.options import Option, switches
from audit.results import CheckResult, Metric, Table
from audit.stats import ci_level, equivalence_status, n_to_settle

__all__ = ["SPEC", "run", "flat_distances"]


def flat_distances(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    """L2, relative L2 (to ``b``) and cosine similarity of two parameter dicts."""
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


def _boot_gap(ctx: CheckContext, v: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """CI of mean(v) - mean(w), resampling references (v: U-vs-R_i, w: R-vs-R pairs)."""
    b = ctx.n_boot
    iv = ctx.rng.integers(0, len(v), size=(b, len(v)))
    iw = ctx.rng.integers(0, len(w), size=(b, len(w)))
    reps = v[iv].mean(1) - w[iw].mean(1)
    tail = (1 - ci_level(ctx.alpha)) / 2
    lo, hi = np.quantile(reps, [tail, 1 - tail])
    return float(lo), float(hi)


def run(ctx: CheckContext) -> CheckResult:
    """Distances U-R and O-R against R-R, overall and per layer."""
    params, reason = _params(ctx)
    if reason:
        return CheckResult(id="parameter_distance", title=SPEC.title, status="skipped",
                           summary=f"Parameter distance not measured: {reason}.", missing=[reason])
    refs = ctx.case.reference_roles
    pairs = list(itertools.combinations(refs, 2))
    u_r = [flat_distances(params["unlearned"], params[r]) for r in refs]
    o_r = [flat_distances(params["original"], params[r]) for r in refs]
    r_r = [flat_distances(params[a], params[b]) for a, b in pairs]
    metrics = []
    for key in ("l2", "relative_l2"):
        v = np.array([d[key] for d in u_r])
        w = np.array([d[key] for d in r_r]) if r_r else np.array([])
        metrics.append(_metric(ctx, key, v, w))
        metrics.append(Metric(f"{key}[original]", "parameters", float(np.mean([d[key] for d in o_r])),
                              reference=float(w.mean()) if w.size else None, comparator="info",
                              n=len(refs), note="context: distance of the original to the references"))
    cos = np.array([d["cosine"] for d in u_r])
    metrics.append(Metric("cosine", "parameters", float(cos.mean()),
                          reference=float(np.mean([d["cosine"] for d in r_r])) if r_r else None,
                          comparator="info", n=len(refs)))
    status = metrics[0].status or "inconclusive"
    return CheckResult(id="parameter_distance", title=SPEC.title, status=status,
                       summary=_summary(status, metrics[0]), metrics=metrics,
                       tables=[_layer_table(params, refs, pairs)],
                       notes=["Different random initialisations put retrains far apart in weight "
                              "space; treat this check as context, not proof."])


def _metric(ctx: CheckContext, key: str, v: np.ndarray, w: np.ndarray) -> Metric:
    pol = ctx.policy
    if w.size == 0:
        return Metric(key, "parameters", float(v.mean()), comparator="at_most", n=len(v),
                      status="inconclusive", note="needs >= 2 references for a noise floor")
    margin = pol["auto_factor"] * float(w.mean())
    note = None
    if len(v) < pol["min_references_for_ci"]:
        ci, status = None, "inconclusive"
        note = f"{len(v)} references are too few for a CI; {pol['min_references_for_ci']} needed"
    else:
        ci = _boot_gap(ctx, v, w)
        status = equivalence_status(ci, margin, "at_most")
    delta = float(v.mean() - w.mean())
    return Metric(key, "parameters", float(v.mean()), reference=float(w.mean()), delta=delta,
                  delta_ci=ci, margin=margin, comparator="at_most", n=len(v), status=status,
                  n_to_settle=n_to_settle(delta, ci, len(v), margin, "at_most") if ci else
                  int(pol["min_references_for_ci"]), note=note)


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


def _summary(status: str, m: Metric) -> str:
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
    order=30,
    options={
        **switches(required=False),
        "auto_factor": Option(float, 1.0, "margin = auto_factor x the mean R-R distance",
                              minimum=0, exclusive_minimum=True, tighter="lower"),
        "min_references_for_ci": Option(int, 3, "references needed for a confidence interval",
                                        minimum=2),
    },
)
