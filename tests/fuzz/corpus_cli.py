"""Hostile CLI arguments, output directories, interruptions and tampered packs."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from tests.fuzz.base import edit_toml
from tests.fuzz.spec import BAD, Ctx, Input, run_case

__all__ = ["cli_inputs", "out_inputs", "pack_inputs"]

AUDITED = frozenset({3})  # the base case's honest verdict: inconclusive (2 references)


def _args(*argv: str) -> Callable[[Ctx], list[str]]:
    """Fixed arguments; ``{case}``, ``{work}``, ``{key}`` are substituted."""
    def prep(ctx: Ctx) -> list[str]:
        return [a.format(case=ctx.case / "case.toml", work=ctx.work, key=ctx.key) for a in argv]
    return prep


def _run_with(*extra: str, setup: Callable[[Ctx], None] | None = None) -> Callable[[Ctx], list[str]]:
    def prep(ctx: Ctx) -> list[str]:
        if setup:
            setup(ctx)
        return run_case(ctx, *[a.format(work=ctx.work, key=ctx.key) for a in extra])
    return prep


def _template(body: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        (ctx.work / "tpl").mkdir()
        (ctx.work / "tpl" / "report.md.j2").write_text(body)
    return setup


def _rsa_key(ctx: Ctx) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    (ctx.work / "k.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def cli_inputs() -> list[Input]:
    """Bad options and values for run, scenario, demo, verify, methods and calibrate."""
    run = [
        ("seed_negative", ("--seed", "-1")), ("seed_huge", ("--seed", str(2**70))),
        ("seed_text", ("--seed", "abc")), ("seed_float", ("--seed", "1.5")),
        ("format_xml", ("--format", "xml")), ("unknown_option", ("--frobnicate",)),
        ("template_missing", ("--template", "{work}/nope")),
        ("template_is_file", ("--template", "{key}")),
        ("sign_key_missing", ("--sign-key", "{work}/nope.pem")),
        ("sign_key_is_dir", ("--sign-key", "{work}")),
    ]
    out = [Input(f"cli/run_{k}", _run_with(*v)) for k, v in run]
    out += [
        Input("cli/run_sign_key_garbage", _run_with("--sign-key", "{work}/k.pem", setup=lambda c: (
            (c.work / "k.pem").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")))),
        Input("cli/run_sign_key_rsa", _run_with("--sign-key", "{work}/k.pem", setup=_rsa_key)),
        Input("cli/run_template_syntax_error", _run_with("--template", "{work}/tpl",
                                                         setup=_template("{% if %}"))),
        Input("cli/run_template_undefined", _run_with("--template", "{work}/tpl",
                                                      setup=_template("{{ r.nope.deeper }}"))),
        Input("cli/run_template_sandbox_escape", _run_with("--template", "{work}/tpl", setup=_template(
            "{{ r.__class__.__mro__[1].__subclasses__() }}"))),
        Input("cli/run_missing_out", _args("run", "{case}")),
        Input("cli/run_no_arguments", _args("run")),
        Input("cli/unknown_command", _args("frobnicate")),
        Input("cli/scenario_unknown", _args("scenario", "nope", "--out", "{work}/sc")),
        Input("cli/scenario_out_is_file", _args("scenario", "digits", "--out", "{case}")),
        Input("cli/scenario_out_not_empty", _args("scenario", "digits", "--out", "{work}")),
        Input("cli/scenario_seed_negative", _args("scenario", "digits", "--out", "{work}/sc", "--seed", "-1")),
        Input("cli/scenario_seed_huge", _args("scenario", "digits", "--out", "{work}/sc", "--seed", str(2**64))),
        Input("cli/demo_unknown_scenario", _args("demo", "--scenario", "nope", "--out", "{work}/d")),
        Input("cli/demo_seed_negative", _args("demo", "--seed", "-1", "--out", "{work}/d")),
        Input("cli/verify_missing", _args("verify", "{work}/nope")),
        Input("cli/verify_file", _args("verify", "{case}")),
        Input("cli/verify_empty_dir", lambda c: ((c.work / "e").mkdir(), ["verify", str(c.work / "e")])[1],
              expect=frozenset({1, 2})),
        Input("cli/methods_neither_case_nor_scenario", _args("methods", "--out", "{work}/m")),
        Input("cli/methods_both", _args("methods", "--out", "{work}/m", "--case", "{case}",
                                        "--scenario", "digits")),
        Input("cli/methods_case_without_recipe", _args("methods", "--out", "{work}/m", "--case", "{case}")),
        Input("cli/methods_bad_seeds", _args("methods", "--out", "{work}/m", "--case", "{case}",
                                             "--seeds", "a,b")),
        Input("cli/methods_unknown_method", _args("methods", "--out", "{work}/m", "--case", "{case}",
                                                  "--methods", "rm_rf")),
        Input("cli/methods_user_os_system", _args("methods", "--out", "{work}/m", "--case", "{case}",
                                                  "--method", "os:system")),
        Input("cli/methods_user_not_a_function", _args("methods", "--out", "{work}/m", "--case", "{case}",
                                                       "--method", "json:__name__")),
        Input("cli/calibrate_seeds_zero", _args("calibrate", "--quick", "--seeds", "0"), timeout=90),
        Input("cli/calibrate_jobs_zero", _args("calibrate", "--quick", "--jobs", "0"), timeout=90),
        Input("cli/calibrate_references_negative", _args("calibrate", "--quick", "--references", "-1"),
              timeout=90),
        Input("cli/calibrate_out_in_proc", _args("calibrate", "--quick", "--out", "/proc/x/c.md"),
              timeout=90),
    ]
    return out


def _fake_pack_dir(ctx: Ctx) -> list[str]:
    """--out holds user files and a manifest.json claiming them as pack outputs."""
    out = ctx.work / "pack"
    out.mkdir()
    (out / "thesis.txt").write_text("years of work\n")
    (out / "manifest.json").write_text(json.dumps({"outputs": {"thesis.txt": {}}}))
    return run_case(ctx)


def _pack_check(ctx: Ctx) -> list[str]:
    """A completed run's pack verifies, its junit parses, its Markdown escapes names."""
    import os
    import xml.etree.ElementTree as ET

    from reports import verify_pack

    pack = ctx.work / "pack"
    problems = [f"verify: {p}" for p in verify_pack(pack)]
    try:
        ET.parse(pack / "junit.xml")
    except ET.ParseError as exc:
        problems.append(f"junit.xml is not XML: {exc}")
    if "[x](http://evil.example)" in (pack / "report.md").read_text():
        problems.append("report.md: Markdown link in a group name not escaped")
    umask = os.umask(0)
    os.umask(umask)
    if stat.S_IMODE(pack.stat().st_mode) != 0o777 & ~umask:
        problems.append(f"pack mode {oct(stat.S_IMODE(pack.stat().st_mode))} ignores the umask")
    return problems


def _hostile_group_names(ctx: Ctx) -> list[str]:
    import pandas as pd

    df = pd.read_csv(ctx.case / "data.csv")
    df["school"] = ["north\x07\x1b[31m<b>" if i % 2 else "**bold**|[x](http://evil.example)"
                    for i in range(len(df))]
    df.to_csv(ctx.case / "data.csv", index=False)
    return run_case(ctx)


def out_inputs() -> list[Input]:
    """Hazardous --out destinations, interruptions, and full runs whose packs are checked."""
    deep = lambda c: ["run", str(c.case / "case.toml"), "--out", str(c.work / "a" / "b" / "pack")]  # noqa: E731
    return [
        Input("out/is_existing_file", _args("run", "{case}", "--out", "{key}")),
        Input("out/is_case_file", _args("run", "{case}", "--out", "{case}")),
        Input("out/non_pack_dir", _args("run", "{case}", "--out", "{work}")),
        Input("out/fake_manifest_claims_user_files", _fake_pack_dir),
        Input("out/under_proc", _args("run", "{case}", "--out", "/proc/unlearn-audit-fuzz/pack")),
        Input("out/under_a_file", lambda c: ["run", str(c.case / "case.toml"), "--out",
                                             str(c.case / "data.csv" / "pack")]),
        Input("out/deep_parents_bad_policy", lambda c: [*deep(c), "--policy", str(c.work / "nope.toml")]),
        Input("out/deep_parents_bad_case", lambda c: (edit_toml(c.case, "[data]", "[dataa]"), deep(c))[1]),
        Input("out/deep_parents_bad_template", lambda c: (_template("{% if %}")(c),
                                                          [*deep(c), "--template", str(c.work / "tpl")])[1]),
        Input("out/sigterm_while_writing", deep, interrupt="TERM", expect=frozenset({2, 3})),
        Input("out/sigkill_while_writing_then_rerun", run_case, interrupt="KILL",
              expect=AUDITED, allowed_new=("pack", "pack.commitment-key")),
        Input("audit/noop_unlearned_fails", lambda c: (edit_toml(
            c.case, 'unlearned = "unlearned.skops"', 'unlearned = "original.skops"'), run_case(c))[1],
            expect=frozenset({1}), allowed_new=("pack", "pack.commitment-key"), post=_pack_check),
        Input("audit/hostile_group_names", _hostile_group_names, expect=AUDITED,
              allowed_new=("pack", "pack.commitment-key"), post=_pack_check),
    ]


def _tamper(kind: str, fn: Callable[[Path], object], *extra: str) -> Callable[[Ctx], list[str]]:
    def prep(ctx: Ctx) -> list[str]:
        pack = ctx.pack(kind)
        fn(pack)
        return ["verify", str(pack), *extra]
    return prep


def _flip(name: str, at: int = 100) -> Callable[[Path], None]:
    def fn(pack: Path) -> None:
        b = bytearray((pack / name).read_bytes())
        b[at % len(b)] ^= 0x01
        (pack / name).write_bytes(bytes(b))
    return fn


def _json_edit(name: str, edit: Callable[[dict], object]) -> Callable[[Path], None]:
    def fn(pack: Path) -> None:
        from reports import canonical_json

        obj = json.loads((pack / name).read_text())
        edit(obj)
        (pack / name).write_text(canonical_json(obj))
    return fn


def _rewrite_to_pass(pack: Path) -> None:
    """Results, attestation, views and manifest hashes all rewritten to a PASS (signature kept)."""
    from reports import build_statement, canonical_json, environment, render_view
    from reports.manifest import file_entry, sha256_bytes
    from reports.render import VIEWS

    results = json.loads((pack / "results.json").read_text())
    results["verdict"], results["exit_code"] = "pass", 0
    for c in results["checks"]:
        c["status"] = "pass" if c["status"] == "fail" else c["status"]
    text = canonical_json(results)
    (pack / "results.json").write_text(text)
    (pack / "attestation.intoto.json").write_text(canonical_json(
        build_statement(json.loads(text), sha256_bytes(text.encode()))))
    env = environment()
    for name in VIEWS:
        (pack / name).write_text(render_view(name, json.loads(text), env))
    manifest = json.loads((pack / "manifest.json").read_text())
    for name in manifest["outputs"]:
        manifest["outputs"][name] = file_entry(pack / name)
    (pack / "manifest.json").write_text(canonical_json(manifest))


def _user_view_replaced(pack: Path) -> None:
    from reports.manifest import file_entry

    (pack / "report.md").write_text("# everything passed\n")
    manifest = json.loads((pack / "manifest.json").read_text())
    manifest["outputs"]["report.md"] = file_entry(pack / "report.md")
    from reports import canonical_json

    (pack / "manifest.json").write_text(canonical_json(manifest))


def _input_edit(m: dict) -> None:
    m["inputs"]["data"]["sha256"] = "0" * 64


TAMPERED = frozenset({1})


def pack_inputs() -> list[Input]:
    """Tampered evidence packs given to ``verify`` (exit 1 expected)."""
    other_key = "A" * 43 + "="
    out = [Input(f"pack/{kind}_flip_{name}", _tamper(kind, _flip(name)))
           for kind in ("signed", "unsigned")
           for name in ("results.json", "report.html", "report.md", "junit.xml", "report.pdf",
                        "attestation.intoto.json")]
    out += [
        Input("pack/signed_flip_manifest", _tamper("signed", _flip("manifest.json", 50))),
        Input("pack/signed_flip_signature", _tamper("signed", _flip("manifest.sig", 10))),
        Input("pack/signed_rewritten_to_pass", _tamper("signed", _rewrite_to_pass)),
        Input("pack/signed_rewritten_unsigned_with_key", _tamper("signed", lambda p: (
            _rewrite_to_pass(p), _json_edit("manifest.json", lambda m: m.update(signature=None))(p),
            (p / "manifest.sig").unlink()), "--public-key", other_key)),
        Input("pack/signed_signature_removed", _tamper("signed", lambda p: (p / "manifest.sig").unlink())),
        Input("pack/signed_wrong_public_key", _tamper("signed", lambda p: None, "--public-key", other_key)),
        Input("pack/signed_garbage_public_key", _tamper("signed", lambda p: None, "--public-key", "!!"),
              expect=frozenset({1, 2})),
        Input("pack/signed_inputs_edited", _tamper("signed", _json_edit("manifest.json", _input_edit))),
        Input("pack/unsigned_inputs_edited", _tamper("unsigned", _json_edit("manifest.json", _input_edit)),
              note="the attestation binds the recorded inputs"),
        Input("pack/user_template_view_replaced", _tamper("user", _user_view_replaced),
              note="user templates ship in the pack and are re-rendered"),
        Input("pack/extra_file", _tamper("unsigned", lambda p: (p / "extra.txt").write_text("x"))),
        Input("pack/results_removed", _tamper("unsigned", lambda p: (p / "results.json").unlink())),
        Input("pack/results_symlink", _tamper("unsigned", lambda p: (
            (p / "results.json").unlink(), (p / "results.json").symlink_to("/etc/hostname")))),
        Input("pack/manifest_not_canonical", _tamper("unsigned", lambda p: (p / "manifest.json").write_text(
            json.dumps(json.loads((p / "manifest.json").read_text()), indent=4)))),
        Input("pack/manifest_is_list", _tamper("unsigned", lambda p: (p / "manifest.json").write_text("[]"))),
        Input("pack/manifest_outputs_list", _tamper("unsigned", _json_edit(
            "manifest.json", lambda m: m.update(outputs=[])))),
        Input("pack/manifest_output_traversal", _tamper("unsigned", _json_edit(
            "manifest.json", lambda m: m["outputs"].update({"../../etc/hostname": {"sha256": "0", "size": 1}})))),
        Input("pack/manifest_output_entry_string", _tamper("unsigned", _json_edit(
            "manifest.json", lambda m: m["outputs"].update({"report.md": "x"})))),
        Input("pack/manifest_signature_odd", _tamper("unsigned", _json_edit(
            "manifest.json", lambda m: m.update(signature={"algorithm": "ed25519", "public_key": 7})))),
        Input("pack/manifest_templates_odd", _tamper("unsigned", _json_edit(
            "manifest.json", lambda m: m.update(templates=["builtin"])))),
        Input("pack/manifest_deeply_nested", _tamper("unsigned", lambda p: (p / "manifest.json").write_text(
            "[" * 100000 + "]" * 100000)), expect=frozenset({1, 2})),
        Input("pack/manifest_not_utf8", _tamper("unsigned", lambda p: (p / "manifest.json").write_bytes(
            b"\xff\xfe{}"))),
        Input("pack/results_not_json", _tamper("unsigned", lambda p: (p / "results.json").write_text("{"))),
    ]
    # verify's verdict on a tampered pack is exit 1; an unreadable argument may be 2
    return [i if i.expect != BAD else replace(i, expect=TAMPERED) for i in out]
