"""The report a compliance officer reads in two minutes: summary, glossary, policy table.

Recorded results (``tests/reports/data/*.results.json``, trimmed: figures dropped, long tables
and subgroup lists cut) come from real audits: the digits and accent scenarios with their
own unlearned model (``fail``) and with a retrain of another seed as U (``pass`` /
``inconclusive`` — the accent original memorises too little to give the audit power), and
the tiny two-reference case (``inconclusive``: one more reference would settle it), and the tiny
language-model case of ``tests/audit/lm`` with the original (plus weight noise) as U (``fail``). Made with
``unlearn-audit scenario NAME`` + ``unlearn-audit run`` at seed 0.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from audit.engine.policy import declarations, default_policy
from audit.engine.policy_table import policy_table
from reports import render_html, render_markdown
from reports.glossary import TERMS, terms_used, visible_text
from reports.summary import FAILURE_WORDS, HEADLINES, executive_summary
from tests.reports.fixtures import sample_results

DATA = Path(__file__).parent / "data"
TEMPLATES = Path(__file__).resolve().parents[2] / "reports" / "templates"
RECORDED = sorted(p.name.removesuffix(".results.json") for p in DATA.glob("*.results.json"))

# Technical words a report might use; each one that appears must be defined in the glossary.
JARGON = ("AUC", "ROC", "TPR", "FPR", "FNR", "KL", "JS", "CI", "LiRA", "RMIA", "TOST", "LOO", "Holm",
          "BH", "Benjamini", "Bonferroni", "McNemar", "Wilcoxon", "Welch", "Student-t", "bootstrap",
          "p-value", "membership", "negative control", "positive control", "power", "band", "margin",
          "delta", "divergence", "commitment", "manifest", "attestation", "SHA-256", "seed", "subgroup",
          "slice", "inconclusive", "retrain", "reference", "loss", "accuracy", "cosine", "L2",
          "counterfactual", "differencing", "total variation", "disagreement", "entropy", "HMAC")
# Capitalised tokens that are not jargon (status words, formats, names of things).
NOT_JARGON = {"PASS", "FAIL", "WARN", "ERROR", "INCONCLUSIVE", "SKIPPED", "HTML", "PDF", "JSON", "TOML",
              "SVG", "CSV", "UTC", "ID", "MLP", "CPU", "DIR", "OK", "MB"}

_ACRONYM = r"(?<![\w-])[A-Z][A-Z0-9-]*[A-Z](?![\w-])"  # a whole token: "AUC", not "REQ" of "REQ-2026-0042"


def recorded(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.results.json").read_text("utf-8"))


def _glossary_terms(html: str) -> list[str]:
    section = html[html.index('<section id="glossary">'):]
    return [visible_text(t) for t in re.findall(r"<dt>(.*?)</dt>", section)]


def _without_glossary(html: str) -> str:
    return html[:html.index('<section id="glossary">')] if '<section id="glossary">' in html else html


@pytest.mark.parametrize(("name", "verdict"), [("digits-pass", "pass"), ("digits-fail", "fail"),
                                               ("accent-fail", "fail"), ("accent-inconclusive", "inconclusive"),
                                               ("tiny-inconclusive", "inconclusive")])
def test_recorded_results_have_the_verdict_the_summary_words(name: str, verdict: str) -> None:
    r = recorded(name)
    assert r["verdict"] == verdict
    s = executive_summary(r)
    assert len(s["facts"]) == 3 and s["next"]
    assert s["answer"].startswith(HEADLINES[verdict].split("{")[0])


def test_pass_summary() -> None:
    s = executive_summary(recorded("digits-pass"))
    assert s["answer"] == "The unlearned model behaves like a model retrained without the data."
    assert "forget 252 rows (rows picked at random)" in s["asked"] and "DEMO-DIGITS-001" in s["asked"]
    assert s["facts"][0].startswith("Output divergence:") and "0.0044 for the unlearned model" in s["facts"][0]
    assert "99.5 % of fresh retrains would land at or below 0.0079" in s["facts"][0]
    assert s["facts"][1].startswith("The audit could have caught a model that forgot nothing")
    assert "the original scores 0.074" in s["facts"][1]
    assert s["facts"][2].startswith("Each of the 4 retrained models")
    assert any("No further action" in step for step in s["next"])


def test_fail_summary_says_what_failed_in_words() -> None:
    s = executive_summary(recorded("digits-fail"))
    assert FAILURE_WORDS["membership_inference"] in s["answer"]
    assert FAILURE_WORDS["output_divergence"] in s["answer"]
    assert "0.065 for the unlearned model" in s["facts"][0]  # the deciding KL, not 0.06532
    assert any("Do not treat the deletion request as fulfilled" in step for step in s["next"])
    accent = executive_summary(recorded("accent-fail"))
    assert FAILURE_WORDS["subgroup_shift"] in accent["answer"] and FAILURE_WORDS["utility"] in accent["answer"]
    assert "78.0 % for the unlearned model" in accent["facts"][0]
    assert any("harmed groups" in step for step in accent["next"])
    assert accent["facts"][1].startswith("The audit could not have caught")


def test_inconclusive_summary_says_what_would_settle_it() -> None:
    tiny = executive_summary(recorded("tiny-inconclusive"))
    assert tiny["answer"].startswith("The audit could not decide, because output divergence and membership "
                                     "inference could not reach a decision.")
    assert tiny["answer"].endswith("To settle it: 1 more retrained model.")
    assert any(step.startswith("Add 1 more retrained model") for step in tiny["next"])
    assert "0 of 2 pass" in tiny["facts"][2]  # the negative control, honestly
    nopower = executive_summary(recorded("accent-inconclusive"))
    assert "could not have caught a model that forgot nothing" in nopower["answer"]
    assert any("on_no_power" in step for step in nopower["next"])


def test_error_summary_names_the_check_that_stopped() -> None:
    r = recorded("digits-pass")
    r["verdict"] = "error"
    util = next(c for c in r["checks"] if c["id"] == "utility")
    util.update(status="error", summary="The check could not run: MemoryError")
    s = executive_summary(r)
    assert s["answer"] == HEADLINES["error"]
    assert s["facts"][0] == "Utility is error: The check could not run: MemoryError."


@pytest.mark.parametrize("name", RECORDED)
def test_summary_is_readable_without_the_glossary(name: str) -> None:
    s = executive_summary(recorded(name))
    text = " ".join([s["asked"], s["answer"], *s["facts"], *s["next"]])
    for word in ("TOST", "LOO", "Bonferroni", "bootstrap", "Holm", "Student", "p-value", "delta", " CI ",
                 "U-R", "O->", " U ", " R ", "tau"):
        assert word not in text, word
    assert not re.search(r"\b[a-z]+_[a-z_]+\b(?<!on_no_power)", text.replace("general.on_no_power", ""))
    for acronym, explained in (("AUC", "AUC: 0.5 = guessing"), ("KL", "KL divergence; 0 = identical")):
        assert text.count(acronym) == text.count(explained), acronym  # never unexplained


@pytest.mark.parametrize("name", RECORDED)
def test_report_opens_with_the_summary(name: str) -> None:
    r = recorded(name)
    s = executive_summary(r)
    html, md = render_html(r), render_markdown(r)
    top = visible_text(html[:html.index('<section id="overview">')])
    assert s["answer"] in top and all(f in top for f in s["facts"]) and all(n in top for n in s["next"])
    md_text = visible_text(MarkdownIt("commonmark").render(md[:md.index("## The audit at a glance")]))
    assert s["answer"] in md_text and all(f in md_text for f in s["facts"])


@pytest.mark.parametrize("name", [*RECORDED, "sample"])
def test_glossary_defines_every_term_the_report_uses(name: str) -> None:
    r = sample_results() if name == "sample" else recorded(name)
    for render, markup in ((render_html, "html"), (render_markdown, "md")):
        out = render(r)
        text = visible_text(_without_glossary(out) if markup == "html" else out.split("## Glossary")[0], markup)
        listed = _glossary_terms(out) if markup == "html" else re.findall(r"^- \*\*(.+?)\*\*:", out, re.M)
        listed = [visible_text(t, "md") for t in listed]
        assert listed == [t.term for t in terms_used(text)]
        for word in JARGON:  # every technical word that appears is defined
            if re.search(rf"\b{re.escape(word)}", text):
                assert any(t.found_in(word) for t in terms_used(text)), f"{word!r} used but not in the glossary"
        caps = set(re.findall(_ACRONYM, text)) - NOT_JARGON
        caps = {c for c in caps if not re.search(r"\d", c)}  # request ids, versions
        undefined = [c for c in caps if not any(t.found_in(c) for t in TERMS)]
        assert not undefined, f"acronyms used but not in the glossary: {undefined}"


def test_templates_use_only_defined_terms() -> None:
    """The templates' own prose: every acronym and technical word in them has a glossary entry."""
    for path in TEMPLATES.glob("*.j2"):
        if path.name.startswith("junit"):
            continue
        src = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", " ", path.read_text("utf-8"), flags=re.S)
        prose = visible_text(src, "html" if "html" in path.name else "md")
        for word in [w for w in JARGON if re.search(rf"\b{re.escape(w)}", prose)]:
            assert any(t.found_in(word) for t in TERMS), f"{path.name} uses {word!r}, not in the glossary"
        caps = {c for c in re.findall(_ACRONYM, prose) if not re.search(r"\d", c)}
        assert not [c for c in caps - NOT_JARGON if not any(t.found_in(c) for t in TERMS)], path.name


def test_a_term_missing_from_the_glossary_is_caught() -> None:
    """The coverage check can fail: drop the AUC entry and the membership report is uncovered."""
    text = visible_text(render_html(recorded("digits-fail")))
    without = [t for t in TERMS if t.term != "AUC"]
    assert re.search(r"\bAUC\b", text) and not any(t.found_in("AUC") for t in without)


@pytest.mark.parametrize("name", ["digits-fail", "accent-fail"])
def test_policy_table_lists_every_option_with_its_meaning(name: str) -> None:
    r = recorded(name)
    # the recorded run's values over today's declarations: a recorded table goes stale whenever
    # an option is added, and this test is about the declarations reaching the report
    pol = default_policy()
    for sec, values in r["policy"].items():
        pol.setdefault(sec, {}).update({k: v for k, v in values.items() if k in pol.get(sec, {})})
    r["policy_table"] = policy_table(pol, r["policy_sources"])
    html, md = render_html(r), render_markdown(r)
    section = html[html.index('<section id="policy">'):html.index("</section>", html.index('<section id="policy">'))]
    assert "<pre>" not in section and '"general": {' not in html  # no raw JSON dump
    rows = {row["option"]: row for row in r["policy_table"]}
    for sec, options in declarations().items():
        for key, opt in options.items():
            option = f"{sec}.{key}"
            assert option in rows, option
            assert rows[option]["meaning"] == opt.doc and opt.doc, option
            assert f'<code title="{option}">{key}</code>' in section
            assert f"| `{option}` |" in md
    changed = [row for row in r["policy_table"] if row["value"] != row["default"]]
    assert section.count('class="changed"') == len(changed)


def test_policy_table_without_meanings_still_renders_as_a_table() -> None:
    r = sample_results()  # hand-built, no policy_table: values only
    html = render_html(r)
    assert "<code>general.alpha</code></td><td><code>0.05</code>" in html


def _live(case_toml: Path) -> dict[str, Any]:
    from audit.core.case_file import load_case
    from audit.engine.runner import run_audit

    return dict(run_audit(load_case(case_toml), seed=0))


def _assert_live_report(r: dict[str, Any], verdict: str) -> None:
    assert r["verdict"] == verdict
    s = executive_summary(r)
    assert s["answer"].startswith(HEADLINES[verdict].split("{")[0])
    html = render_html(r)
    top = visible_text(html[:html.index('<section id="overview">')])
    assert s["answer"] in top and len(s["facts"]) == 3
    assert _glossary_terms(html) == [t.term for t in terms_used(visible_text(_without_glossary(html)))]
    assert len(r["policy_table"]) == sum(len(o) for o in declarations().values())


def test_live_digits_report(digits_shipped_run: tuple[int, dict[str, Any]]) -> None:
    """The digits scenario as shipped (its unlearned model fails) renders the summary it earns
    (results.json of the CLI run the known-answer tests share)."""
    _assert_live_report(digits_shipped_run[1], "fail")


@pytest.mark.slow
def test_live_digits_retrain_and_accent_reports(digits_dir: Path, accent_dir: Path, tmp_path: Path) -> None:
    from tests.conftest import write_variant

    _assert_live_report(_live(write_variant(digits_dir, tmp_path / "d", unlearned="extra/retrained-other-seed.pt")),
                        "pass")
    _assert_live_report(_live(accent_dir / "case.toml"), "fail")
    _assert_live_report(_live(write_variant(accent_dir, tmp_path / "a",
                                            unlearned="extra/retrained-other-seed.skops")), "inconclusive")


def _with_group_finding(status: str) -> dict[str, Any]:
    r = recorded("digits-pass")
    sub = next(c for c in r["checks"] if c["id"] == "subgroup_shift")
    sub["findings"].append({"message": "g=b: accuracy 0.921 under the unlearned model vs 0.651 under the retrained "
                            "references (delta +0.269)", "slice": {"g": "b & <c>"}, "metric": "accuracy", "n": 378,
                            "delta": 0.269, "ci": [0.227, 0.316], "p_value": 1e-9, "p_adjusted": 1e-8,
                            "test": "exact sign test", "status": status, "effect": "improvement"})
    return r


def test_improvement_is_reported_apart_from_harm() -> None:
    r = _with_group_finding("info")
    s = executive_summary(r)
    assert s["answer"] == HEADLINES["pass"]
    assert s["also"] == ["1 group did better under the unlearned model than under a retrain (an improvement: "
                         "reported, it does not block): g = b & <c>."]
    html, md = render_html(r), render_markdown(r)
    sub = html[html.index('id="check-subgroup_shift"'):]
    assert "<h3>Improvements: served better than under a retrain (reported, not blocking)</h3>" in sub
    assert "Findings that block the gate" not in sub and "g = b &amp; &lt;c&gt;" in sub
    assert "### Improvements: served better than under a retrain (reported, not blocking)" in md
    blocking = render_html(_with_group_finding("fail"))  # subgroup_shift.blocks = "both"
    sub = blocking[blocking.index('id="check-subgroup_shift"'):]
    assert "Findings that block the gate" in sub and "Improvements:" not in sub


def test_method_audit_results_get_a_method_summary() -> None:
    r = sample_results()
    r["case"]["mode"] = "method"
    r["policy"] = {"method_audit": {"seeds": [0, 1]}}
    s = executive_summary(r)
    assert s["answer"].startswith("At least one unlearning method did not forget") and len(s["facts"]) == 3
    assert s["answer"] in render_html(r) and "| `method_audit.seeds` | `[0, 1]` |" in render_markdown(r)
