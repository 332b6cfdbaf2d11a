"""Hostile case files and policies (``case/…`` and ``policy/…`` inputs)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.fuzz.base import append_toml, edit_toml
from tests.fuzz.spec import Ctx, Input, run_case

__all__ = ["case_inputs", "policy_inputs"]


def _toml(text: str) -> Callable[[Ctx], list[str]]:
    """The whole case.toml replaced by ``text``."""
    def prep(ctx: Ctx) -> list[str]:
        (ctx.case / "case.toml").write_bytes(text.encode("utf-8", "surrogatepass"))
        return run_case(ctx)
    return prep


def _edit(old: str, new: str) -> Callable[[Ctx], list[str]]:
    def prep(ctx: Ctx) -> list[str]:
        edit_toml(ctx.case, old, new)
        return run_case(ctx)
    return prep


def _append(text: str) -> Callable[[Ctx], list[str]]:
    def prep(ctx: Ctx) -> list[str]:
        append_toml(ctx.case, text)
        return run_case(ctx)
    return prep


def _model(value: str, role: str = "unlearned") -> Callable[[Ctx], list[str]]:
    """``models.<role>`` set to the TOML value ``value`` (``{sentinel}`` is substituted)."""
    def prep(ctx: Ctx) -> list[str]:
        edit_toml(ctx.case, f'{role} = "{role}.skops"', f"{role} = " + value.replace(
            "{sentinel}", str(ctx.sentinel)).replace("{case}", str(ctx.case)))
        return run_case(ctx)
    return prep


def _symlink(target: str, *, outside: bool = False) -> Callable[[Ctx], list[str]]:
    """``unlearned`` is a symlink ``u.skops`` to ``target`` (relative to the case dir)."""
    def prep(ctx: Ctx) -> list[str]:
        os.symlink(target, ctx.case / "u.skops")
        edit_toml(ctx.case, 'unlearned = "unlearned.skops"', 'unlearned = "u.skops"')
        return run_case(ctx)
    return prep


def _nested(depth: int) -> str:
    return "[data]\npath = " + "[" * depth + "1" + "]" * depth + "\n"


_SYNTAX = {
    "empty_file": "",
    "unclosed_table": "[case\nname=",
    "duplicate_key": '[case]\nname = "a"\nname = "b"\n',
    "bad_escape": '[case]\nname = "\\q"\n',
    "invalid_utf8": "[case]\nname = \"\udcff\"\n",
    "nul_byte": '[case]\nname = "a\x00b"\n',
    "nested_arrays_deep": _nested(5000),
    "nested_inline_tables_deep": "[data]\npath = " + "{a=" * 3000 + "1" + "}" * 3000 + "\n",
    "huge_integer": "[references]\ntrain = 99999999999999999999999999\n",
    "top_level_scalar": 'models = "x"\n',
    "array_of_tables": "[[models]]\noriginal = 1\n",
}

_TYPES = {
    "name_is_table": ('name = "tiny"', "name = {a = 1}"),
    "label_is_int": ('label = "label"', "label = 3"),
    "split_is_bool": ('split = "split"', "split = true"),
    "groups_is_string": ('groups = ["school"]', 'groups = "school"'),
    "groups_has_int": ('groups = ["school"]', "groups = [1]"),
    "path_is_int": ('path = "data.csv"', "path = 1"),
    "path_is_dir": ('path = "data.csv"', 'path = "."'),
    "retrained_is_int": ('retrained = ["retrained-0.skops", "retrained-1.skops"]', "retrained = 7"),
    "retrained_has_table": ('retrained = ["retrained-0.skops", "retrained-1.skops"]',
                            'retrained = [{format = "onnx"}]'),
    "features_is_string": ('id = "row_id"', 'id = "row_id"\nfeatures = "f0"'),
    "features_empty": ('id = "row_id"', 'id = "row_id"\nfeatures = []'),
    "features_unknown": ('id = "row_id"', 'id = "row_id"\nfeatures = ["px00"]'),
    "features_are_label": ('id = "row_id"', 'id = "row_id"\nfeatures = ["label"]'),
    "label_is_split": ('label = "label"', 'label = "split"'),
    "forget_kind_unknown": ('name = "tiny"', 'name = "tiny"\nforget_kind = "everything"'),
    "request_id_table": ('name = "tiny"', 'name = "tiny"\nrequest_id = {a = 1}'),
}

_STRUCTURE = {
    "unknown_section": "[nonsense]\nx = 1\n",
    "unknown_case_key": None,
    "references_without_recipe": "[references]\ntrain = 2\n",
    "references_negative": '[training]\nrecipe = "sklearn"\n[references]\ntrain = -1\n',
    "references_huge": '[training]\nrecipe = "sklearn"\n[references]\ntrain = 100000\n',
    "references_float": '[training]\nrecipe = "sklearn"\n[references]\ntrain = 2.5\n',
    "recipe_unknown": '[training]\nrecipe = "nope:nothing"\n[references]\ntrain = 1\n',
    "recipe_params_string": '[training]\nrecipe = "sklearn"\nparams = "x"\n[references]\ntrain = 1\n',
    "policy_not_a_table": None,
}


def _missing(key: str) -> Callable[[Ctx], list[str]]:
    def prep(ctx: Ctx) -> list[str]:
        p = ctx.case / "case.toml"
        p.write_text("\n".join(line for line in p.read_text().splitlines()
                               if not line.startswith(key)) + "\n")
        return run_case(ctx)
    return prep


def case_inputs() -> list[Input]:
    """Case-file inputs: syntax, types, missing/extra fields, paths, symlinks, code refs."""
    out = [Input(f"case/syntax_{k}", _toml(v)) for k, v in _SYNTAX.items()]
    out += [Input(f"case/type_{k}", _edit(*v)) for k, v in _TYPES.items()]
    out += [Input(f"case/{k}", _append(v)) for k, v in _STRUCTURE.items() if v is not None]
    out += [
        Input("case/unknown_case_key", _edit('name = "tiny"', 'name = "tiny"\nowner = "x"')),
        Input("case/policy_not_a_table", _toml('policy = 3\n')),
        Input("case/missing_models", _missing("[models]")),
        Input("case/missing_original", _missing("original")),
        Input("case/missing_retrained", _missing("retrained")),
        Input("case/missing_data_path", _missing("path")),
        Input("case/missing_case_file", lambda c: ["run", str(c.work / "nope.toml"), "--out",
                                                   str(c.work / "pack")]),
        Input("case/case_is_directory", lambda c: ["run", str(c.case), "--out", str(c.work / "pack")]),
        Input("case/model_path_escapes", _model('"../../../../../etc/passwd"')),
        Input("case/model_path_absolute_etc", _model('"/etc/hostname"')),
        Input("case/model_path_dev_zero", _model('"/dev/zero"')),
        Input("case/model_path_is_dir", _model('"."')),
        Input("case/data_path_escapes", _edit('path = "data.csv"', 'path = "../../../etc/passwd.csv"')),
        Input("case/data_path_dev_null_csv", _edit('path = "data.csv"', 'path = "/dev/null"')),
        Input("case/symlink_to_etc", _symlink("/etc/passwd")),
        Input("case/symlink_dangling", _symlink("missing.skops")),
        Input("case/symlink_loop", lambda c: (os.symlink("u.skops", c.case / "u.skops"),
                                              _model('"u.skops"')(c))[1]),
        Input("case/model_table_unknown_key", _model('{path = "unlearned.skops", run = "rm -rf /"}')),
        Input("case/model_table_no_path", _model('{format = "skops"}')),
        Input("case/model_format_unknown", _model('{path = "unlearned.skops", format = "exe"}')),
        Input("case/model_format_pickle_forced", _model('{path = "unlearned.skops", format = "pickle"}')),
        Input("case/architecture_os_system", _model(
            '{path = "unlearned.skops", format = "torch", architecture = "os:mkdir", '
            'kwargs = {path = "{sentinel}"}}'), note="any importable callable must be refused"),
        Input("case/architecture_builtins_exec", _model(
            '{path = "unlearned.skops", format = "torch", architecture = "builtins:exec", '
            'kwargs = {source = "open(\'{sentinel}\', \'w\')"}}')),
        Input("case/architecture_not_module", _model(
            '{path = "unlearned.skops", format = "torch", architecture = "json:JSONDecoder"}')),
        Input("case/architecture_malformed", _model(
            '{path = "unlearned.skops", format = "torch", architecture = "::"}')),
        Input("case/architecture_missing_module", _model(
            '{path = "unlearned.skops", format = "torch", architecture = "no_such_mod_x:Net"}')),
        Input("case/kwargs_not_table", _model(
            '{path = "unlearned.skops", format = "torch", architecture = "torch.nn:Linear", kwargs = 3}')),
    ]
    return out


def _policy_file(text: str, via_case: bool = False) -> Callable[[Ctx], list[str]]:
    def prep(ctx: Ctx) -> list[str]:
        if via_case:
            append_toml(ctx.case, "".join(
                f"[policy.{line[1:]}" if line.startswith("[") else line
                for line in text.splitlines(keepends=True)))
            return run_case(ctx)
        p = ctx.work / "policy.toml"
        p.write_text(text)
        return run_case(ctx, "--policy", str(p))
    return prep


_GENERAL_BAD = {
    "alpha": ["nan", '"0.05"'],
    "n_bootstrap": ['"auto"', "99999999999"],
    "batch_size": ["0", "-5"],
    "fail_on_warn": ['"yes"'],
    "on_no_power": ['"pass"'],
    "retrain_coverage": ["nan"],
    "fail_level": ["0.01"],
    "min_rows": ["1e308"],
}
_CHECK_BAD = {
    ("subgroup_shift", "min_group_size"): ["-inf"],
    ("utility", "accuracy_margin"): ["nan", "-0.03"],
    ("utility", "loss_margin"): ["-1"],
    ("output_divergence", "gate_on"): ["[]"],
    ("membership_inference", "shadow_models"): ["3", "100000000"],
    ("membership_inference", "auc_margin"): ["-0.5"],
    ("membership_inference", "shadow_cache_dir"): ['"/proc/self"'],
    ("subgroup_shift", "max_depth"): ["1000"],
    ("unlearning_inference", "folds"): ["1"],
    ("identity", "required"): ['"false"'],
}


def policy_inputs() -> list[Input]:
    """Policy inputs: every [general] option and the riskiest check options, wrong values."""
    out = []
    for key, values in _GENERAL_BAD.items():
        out += [Input(f"policy/general.{key}={v}", _policy_file(f"[general]\n{key} = {v}\n"))
                for v in values]
    for (section, key), values in _CHECK_BAD.items():
        out += [Input(f"policy/{section}.{key}={v}", _policy_file(f"[{section}]\n{key} = {v}\n"))
                for v in values]
    out += [
        Input("policy/case_section_nan_margin",
              _policy_file("[utility]\naccuracy_margin = nan\n", via_case=True)),
        Input("policy/case_section_unknown", _policy_file("[nonsense]\nx = 1\n", via_case=True)),
        Input("policy/case_batch_size_zero", _policy_file("[general]\nbatch_size = 0\n", via_case=True)),
        Input("policy/deeply_nested", _policy_file("x = " + "[" * 5000 + "]" * 5000 + "\n")),
        Input("policy/not_toml", _policy_file("[general\nalpha=")),
        Input("policy/binary", lambda c: ((c.work / "p.toml").write_bytes(os.urandom(64) + b"\xff"),
                                          run_case(c, "--policy", str(c.work / "p.toml")))[1]),
        Input("policy/missing_file", lambda c: run_case(c, "--policy", str(c.work / "nope.toml"))),
        Input("policy/is_directory", lambda c: run_case(c, "--policy", str(c.work))),
        Input("policy/section_is_scalar", _policy_file("general = 3\n")),
        Input("policy/loosen_under_gate", lambda c: (
            append_toml(c.case, "[policy.utility]\naccuracy_margin = 0.5\n"),
            Path(c.work / "gate.toml").write_text("[utility]\naccuracy_margin = 0.01\n"),
            run_case(c, "--policy", str(c.work / "gate.toml")))[2]),
    ]
    return out
