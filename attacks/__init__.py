"""Adversaries: membership inference, unlearning inference and ROC metrics.

This package knows nothing of policies or reports; it maps model outputs to attack
scores (higher = more member-like; member = positive class) and scores to ROC metrics.
"""

from attacks.challenge import (
    ChallengeEstimate,
    challenge_estimate,
    example_epsilons,
    forgetting_quality,
)
from attacks.differencing import FEATURES, difference_features, make_folds, out_of_fold_scores
from attacks.epsilon import EpsilonBound, clopper_pearson, empirical_epsilon
from attacks.lira import gaussian_moments, lira_offline, lira_online, ulira
from attacks.metrics import (
    LowFPRWarning,
    advantage,
    auc,
    auc_from_ranks,
    balanced_accuracy,
    calibrate_threshold,
    roc,
    tpr_at_fpr,
)
from attacks.population import (
    ATTACKS,
    confidence_score,
    entropy_score,
    logit_confidence,
    loss_score,
    modified_entropy_score,
    population_scores,
)
from attacks.resample import paired_roc_bootstrap, tpr_at_fpr_rows
from attacks.rmia import marginal_probability, rmia_scores
from attacks.shokri import ShadowClassifierAttack, attack_features
from attacks.strata import MatchedAUC, StrataMatch, match_strata, matched_auc

__all__ = [
    "ATTACKS",
    "FEATURES",
    "ChallengeEstimate",
    "EpsilonBound",
    "LowFPRWarning",
    "MatchedAUC",
    "ShadowClassifierAttack",
    "StrataMatch",
    "advantage",
    "attack_features",
    "auc",
    "auc_from_ranks",
    "balanced_accuracy",
    "calibrate_threshold",
    "challenge_estimate",
    "clopper_pearson",
    "confidence_score",
    "difference_features",
    "empirical_epsilon",
    "entropy_score",
    "example_epsilons",
    "forgetting_quality",
    "gaussian_moments",
    "lira_offline",
    "lira_online",
    "logit_confidence",
    "loss_score",
    "make_folds",
    "marginal_probability",
    "match_strata",
    "matched_auc",
    "modified_entropy_score",
    "out_of_fold_scores",
    "paired_roc_bootstrap",
    "population_scores",
    "rmia_scores",
    "roc",
    "tpr_at_fpr",
    "tpr_at_fpr_rows",
    "ulira",
]
