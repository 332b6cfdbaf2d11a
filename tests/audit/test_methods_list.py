"""`unlearn-audit methods --list`: every method --method accepts by name, built-in and registered."""

from __future__ import annotations

from typer.testing import CliRunner

from audit.cli.app import app
from audit.core.extensions import register, unregister
from audit.lab.methods import METHODS


def test_list_shows_every_built_in_method_and_exits_0_without_out() -> None:
    res = CliRunner().invoke(app, ["methods", "--list"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    for name in METHODS:
        assert f" {name} " in res.output
    assert {"unsir", "gkt", "vbu"} <= set(METHODS)
    assert "package.module:function" in res.output


def test_list_shows_a_registered_extension_method() -> None:
    @register("method", "my_forget_for_list")
    def my_forget(model, forget, retain, *, seed):  # noqa: ANN001, ANN202
        """Drop the forget rows the quick way. Second sentence not shown."""
        return model

    try:
        res = CliRunner().invoke(app, ["methods", "--list"], env={"COLUMNS": "200"})
        assert res.exit_code == 0
        line = next(ln for ln in res.output.splitlines() if "my_forget_for_list" in ln)
        assert "extension" in line and "Drop the forget rows the quick way" in line
        assert "Second sentence" not in line
    finally:
        unregister("method", "my_forget_for_list")


def test_without_list_out_is_required_exit_2() -> None:
    res = CliRunner().invoke(app, ["methods", "--scenario", "digits"])
    assert res.exit_code == 2 and "--out" in res.output
