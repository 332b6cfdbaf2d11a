"""Stream cases for the tests: the ``stream`` scenario, re-pointed (retrain / no-op variants)."""

from __future__ import annotations

import re
from pathlib import Path

# subgroup_shift off in the fast tier (the slow tier runs the built-in policy, subgroup_shift
# included); the stream's known answers rest on the forgetting and harm checks left
FAST_POLICY = {"subgroup_shift": {"enabled": False}}


def _models(case_dir: Path, tag: str) -> list[str]:
    k = len(list(case_dir.glob(f"retrained-{tag}-*.pt")))
    return [f"retrained-{tag}-{j}.pt" for j in range(k)] + [f"extra/retrained-other-seed-{tag}.pt"]


def variant(case_toml: Path, kind: str, rotation: int = 0) -> Path:
    """A copy of the scenario's case.toml whose every request's unlearned model is replaced.

    ``kind``: ``"retrain"`` — retrain number ``rotation`` of each step plays the unlearned model
    and the others are the references (a genuine retrain with a seed
    the references do not have); ``"noop"`` — the original at every step.
    """
    text = case_toml.read_text("utf-8")
    out = []
    for block in re.split(r"(?=\n\[\[requests\]\])", text):
        m = re.search(r'forget = "req-(\d+)"', block)
        if m is None:
            out.append(block)
            continue
        tag = m.group(1)
        models = _models(case_toml.parent, tag)
        if kind == "retrain":
            unlearned = models[rotation]
            refs = [x for i, x in enumerate(models) if i != rotation]
        elif kind == "noop":
            unlearned, refs = "original.pt", models[:-1]
        else:
            raise ValueError(kind)
        block = re.sub(r'unlearned = "[^"]+"', f'unlearned = "{unlearned}"', block)
        block = re.sub(r"retrained = \[[^\]]*\]", "retrained = [" + ", ".join(f'"{r}"' for r in refs) + "]",
                       block)
        out.append(block)
    path = case_toml.with_name(f"case-{kind}-{rotation}.toml")
    path.write_text("".join(out), encoding="utf-8")
    return path
