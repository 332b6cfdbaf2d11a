"""Candidates audited side by side share the original's and the references' own outputs.

``TokenCache.share(store)``: a second candidate's cache reuses the generations and conditional
log-probabilities of the models it has in common with the first (same weight digest), and
they equal what an unshared cache computes; the candidate's own model still runs.
"""

from __future__ import annotations

import numpy as np

from audit.core.case_file import load_case
from audit.lm.generate import cached_continuations


def _outputs(cache, role: str) -> tuple:
    prompts, answers = cache.questions("forget")[:6], cache.answers("forget")[:6]
    cond = cache.conditional_logprobs(role, "probe:forget", prompts, answers)
    gen = cached_continuations(cache, role, "forget", prefix_fraction=0.5, max_new_tokens=4)
    return cond.values.copy(), gen.generated


def test_a_second_candidate_reruns_only_its_own_model(tiny_lms, tmp_path):
    store: dict = {}
    first = load_case(tiny_lms.case(tmp_path / "a", tiny_lms.retrain(0))).output_cache(64)
    second = load_case(tiny_lms.case(tmp_path / "b", tiny_lms.noisy_original())).output_cache(64)
    alone = load_case(tiny_lms.case(tmp_path / "c", tiny_lms.noisy_original())).output_cache(64)
    first.share(store)
    second.share(store)
    for role in ("original", "retrained:0", "unlearned"):
        _outputs(first, role)
        got, want = _outputs(second, role), _outputs(alone, role)
        assert np.array_equal(got[0], want[0]) and got[1] == want[1], role
    # the original and the reference were computed by the first cache only; U is another model
    assert sorted(second.calls) == [("unlearned", "generate:forget"), ("unlearned", "probe:forget")]
    assert ("original", "probe:forget") in first.calls and ("original", "probe:forget") in alone.calls
