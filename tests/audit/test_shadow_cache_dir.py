"""``shadow_cache_dir`` that cannot hold files is bad input naming the option, not a failed check."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.checks._mia_scores import cache_dir as _cache_dir
from audit.shared.errors import BadInput


def test_a_directory_nothing_can_be_created_in_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(BadInput, match="shadow_cache_dir"):
        _cache_dir(str(blocker / "cache"))


def test_a_usable_directory_is_created_and_returned(tmp_path: Path) -> None:
    assert _cache_dir(str(tmp_path / "new" / "cache")) == str(tmp_path / "new" / "cache")
    assert (tmp_path / "new" / "cache").is_dir() and not any((tmp_path / "new" / "cache").iterdir())
    assert _cache_dir("none") is None


@pytest.mark.parametrize("value", ["/proc/self", "/sys", "/dev/shm/x", "a\x00b"])
def test_the_policy_refuses_it_before_any_work(value: str) -> None:
    from audit.engine.policy import default_policy, merge_policy

    with pytest.raises(BadInput, match="policy.membership_inference.shadow_cache_dir"):
        merge_policy(default_policy(), {"membership_inference": {"shadow_cache_dir": value}}, "policy")
