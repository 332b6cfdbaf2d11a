"""Attack scores of ``membership_inference``: every attack's per-row member score under each model.

:func:`attack_scores` scores the forget rows (members) and the test rows (non-members) under U,
every retrained reference and O: the population attacks (:mod:`attacks.population`), offline
LiRA with the references as OUT models (:data:`REFERENCE_ATTACK`) and the shadow attacks (online
LiRA, RMIA) against shadows trained with the case's recipe, cached on disk
(:func:`cache_dir`). The check (:mod:`audit.checks.membership_inference`) turns them into
gated AUC evidence.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from attacks.lira import lira_offline, lira_online
from attacks.population import (
    ATTACKS,
    log_squared_error,
    logit_confidence,
    population_scores,
    squared_error_score,
)
from attacks.rmia import rmia_scores
from audit.checks.base import CheckContext
from audit.shared.errors import BadInput
from audit.training.shadows import case_shadows

__all__ = ["REFERENCE_ATTACK", "SHADOW_ATTACKS", "KNOWN_ATTACKS", "REGRESSION_ATTACKS", "attack_scores",
           "plausible_cache_dir", "cache_dir"]

REFERENCE_ATTACK = "lira_offline_refs"
SHADOW_ATTACKS = ("lira_online", "rmia")
KNOWN_ATTACKS = (*ATTACKS, REFERENCE_ATTACK, *SHADOW_ATTACKS)
REGRESSION_ATTACKS = ("loss", REFERENCE_ATTACK)



def _regression_rows(ctx: CheckContext, role: str) -> tuple[np.ndarray, np.ndarray]:
    """A regressor's predictions and targets on the forget rows, then the test rows."""
    c = ctx.cache
    return (np.r_[c.values(role, "forget"), c.values(role, "test")],
            np.r_[c.labels("forget"), c.labels("test")])


def _phi(ctx: CheckContext, role: str) -> np.ndarray:
    c = ctx.cache
    if c.task == "regression":
        pred, y = _regression_rows(ctx, role)
        return log_squared_error(pred, y, 1e-6 * float(np.var(c.labels("test"))) + 1e-300)
    return np.r_[c.rowwise(logit_confidence, "forget", role), c.rowwise(logit_confidence, "test", role)]


def _reference_scores(ctx: CheckContext, roles: list[str]) -> dict[str, np.ndarray]:
    """Offline LiRA with the retrained references as OUT models (they trained on neither
    forget nor test rows); a reference is scored against the *other* references only."""
    refs = ctx.cache.reference_roles
    phi = {r: _phi(ctx, r) for r in roles}
    out = {}
    for r in roles:
        others = [q for q in refs if q != r]
        out[r] = lira_offline(phi[r], np.stack([phi[q] for q in others]), fixed_variance=True)
    return out


def attack_scores(ctx: CheckContext, attacks: list[str]) -> tuple[list[str], dict, dict]:
    """Member scores of the forget and the test rows under U, every reference and O.

    Parameters
    ----------
    ctx : CheckContext
        The check's context (cache, case, policy, seed).
    attacks : list of str
        Attack names among :data:`KNOWN_ATTACKS` (a regressor: :data:`REGRESSION_ATTACKS`).

    Returns
    -------
    roles : list of str
        ``["unlearned", "retrained:0", ..., "original"]``.
    pos, neg : dict
        ``{role: {attack: scores}}`` of the forget rows (members) and of the test rows.
    """
    cache = ctx.cache
    roles = ["unlearned", *cache.reference_roles, "original"]
    yf = cache.labels("forget")
    pop = [a for a in attacks if a in ATTACKS]
    nf = len(yf)
    if cache.task == "regression":  # the loss attack only (see REGRESSION_ATTACKS)
        scores = {r: squared_error_score(*_regression_rows(ctx, r)) for r in roles}
        pos = {r: {a: scores[r][:nf] for a in pop} for r in roles}
        neg = {r: {a: scores[r][nf:] for a in pop} for r in roles}
    else:
        def by_row(lp: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
            return population_scores(lp, y, pop)

        pos = {r: cache.rowwise(by_row, "forget", r) if pop else {} for r in roles}
        neg = {r: cache.rowwise(by_row, "test", r) if pop else {} for r in roles}
    if REFERENCE_ATTACK in attacks:
        for r, s in _reference_scores(ctx, roles).items():
            pos[r][REFERENCE_ATTACK], neg[r][REFERENCE_ATTACK] = s[:nf], s[nf:]
    if any(a in SHADOW_ATTACKS for a in attacks):
        for a, by_role in _shadow_scores(ctx, roles, attacks).items():
            for r, s in by_role.items():
                pos[r][a], neg[r][a] = s[:nf], s[nf:]
    return roles, pos, neg


def _shadow_scores(ctx: CheckContext, roles: list[str], attacks: list[str]) -> dict[str, dict]:
    """Online LiRA and RMIA against shadows trained with the case's recipe."""
    pol = ctx.policy
    k = int(pol["shadow_models"])
    sh, nf, _ = case_shadows(ctx.case, k, ctx.seed, cache_dir(pol["shadow_cache_dir"]))
    y = np.r_[ctx.cache.labels("forget"), ctx.cache.labels("test")]
    sh_phi = np.stack([logit_confidence(lp, y) for lp in sh.logp])
    sh_p = np.exp(np.stack([lp[np.arange(len(y)), y] for lp in sh.logp]))
    out: dict[str, dict] = {a: {} for a in attacks if a in SHADOW_ATTACKS}
    for r in roles:
        if "lira_online" in out:
            out["lira_online"][r] = lira_online(_phi(ctx, r), sh_phi, sh.member, fixed_variance=k < 64)
        if "rmia" in out:
            p = np.exp(-np.r_[ctx.cache.losses(r, "forget"), ctx.cache.losses(r, "test")])
            # population z = the test rows (non-members of every audited model)
            out["rmia"][r] = rmia_scores(p, sh_p, p[nf:], sh_p[:, nf:], gamma=float(pol["rmia_gamma"]))
    return out


def plausible_cache_dir(field: str, value: str) -> None:
    """Up-front rule for ``shadow_cache_dir``: not a pseudo-filesystem, not a file, a writable parent.

    Parameters
    ----------
    field : str
        The policy field named in the error.
    value : str
        The setting (``""`` = the user cache, ``"none"`` = off: always accepted).

    Returns
    -------
    None
        Raises :class:`audit.shared.errors.BadInput` for a path that cannot be a cache directory.

    Examples
    --------
    >>> plausible_cache_dir("f", "/proc/self")
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: f: '/proc/self' is on a system pseudo-filesystem, not a cache directory
    """
    if value in ("", "none"):
        return
    if "\x00" in value:
        raise BadInput(field, "a path cannot contain a NUL character")
    path = os.path.realpath(value)
    if any(path == root or path.startswith(root + os.sep) for root in ("/proc", "/sys", "/dev")):
        raise BadInput(field, f"{value!r} is on a system pseudo-filesystem, not a cache directory")
    probe = path
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe) or not os.access(probe, os.W_OK | os.X_OK):
        raise BadInput(field, f"{value!r} cannot be created or written (at {probe!r})")


def cache_dir(setting: str) -> str | None:
    """Resolve the policy's shadow cache directory ("" = user cache, "none" = off).

    Parameters
    ----------
    setting : str
        ``membership_inference.shadow_cache_dir``.

    Returns
    -------
    str or None
        The directory (created and probed for writing), or None when caching is off.

    Examples
    --------
    >>> cache_dir("none") is None
    True
    """
    if setting == "none":
        return None
    if setting:
        try:  # a directory this run can create files in, or a clear refusal (not a failed check)
            os.makedirs(setting, exist_ok=True)
            with tempfile.TemporaryFile(dir=setting):
                pass
        except OSError as exc:
            raise BadInput("policy.membership_inference.shadow_cache_dir",
                           f"cannot use {setting!r} as a cache directory: {exc.strerror or exc}") from exc
        return setting
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "unlearn-audit", "shadows")
