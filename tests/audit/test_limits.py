"""Resource limits: oversized data and group columns are refused, naming the field and the limit."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from audit.cli.app import app
from audit.core.case import AuditCase
from audit.core.data import read_table
from audit.core.limits import limits_of
from audit.shared.errors import BadInput

runner = CliRunner()
_f = staticmethod(lambda X: np.c_[np.zeros(len(X)), X[:, 0]])


def _copy(tiny_dir: Path, tmp_path: Path) -> Path:
    d = tmp_path / "case"
    shutil.copytree(tiny_dir, d)
    return d


def _with_policy(d: Path, text: str) -> None:
    (d / "case.toml").write_text((d / "case.toml").read_text() + "\n" + text)


def test_many_valued_group_column_is_refused_naming_column_and_limit(tiny_dir: Path, tmp_path: Path) -> None:
    d = _copy(tiny_dir, tmp_path)
    df = pd.read_csv(d / "data.csv")
    df["school"] = [f"s{i}" for i in range(len(df))]  # 300 distinct values > 200
    df.to_csv(d / "data.csv", index=False)
    res = runner.invoke(app, ["run", str(d / "case.toml"), "--out", str(tmp_path / "p")])
    assert res.exit_code == 2, res.output
    assert "data.groups[0]" in res.output and "'school' has 300 distinct values" in res.output
    assert "general.max_group_values = 200" in res.output
    assert not (tmp_path / "p").exists()


def test_case_policy_sets_a_limit_and_a_gate_bounds_it(tiny_dir: Path, tmp_path: Path) -> None:
    d = _copy(tiny_dir, tmp_path)
    _with_policy(d, "[policy.general]\nmax_rows = 100\n")
    res = runner.invoke(app, ["run", str(d / "case.toml"), "--out", str(tmp_path / "p")])
    assert res.exit_code == 2 and "data.csv has more than 100 rows" in res.output
    assert "general.max_rows = 100" in res.output
    assert limits_of({"general": {"max_rows": 500}}, {"general": {"max_rows": 100}})["max_rows"] == 100


def test_limits_are_validated_like_every_option() -> None:
    with pytest.raises(BadInput, match=r"case.policy.general.max_group_values: must be an integer"):
        limits_of({"general": {"max_group_values": "many"}})
    with pytest.raises(BadInput, match=r"policy.general.max_data_mb: must be >= 1"):
        limits_of(None, {"general": {"max_data_mb": 0}})


def test_columns_limit_on_a_dataframe(tiny_frame: pd.DataFrame) -> None:
    with pytest.raises(BadInput) as err:
        AuditCase(original=_f, unlearned=_f, retrained=[_f], data=tiny_frame,
                  policy={"general": {"max_columns": 5}})
    assert err.value.field == "data.path" and "8 columns" in err.value.message


def _npz_bomb(path: Path, mb: int) -> None:
    """An .npz whose member decompresses to ``mb`` MB of zeros (a few KB on disk)."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = (mb * (1 << 20) // 8,)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z, z.open("x.npy", "w") as f:
        np.lib.format.write_array_header_1_0(f, header)
        chunk = bytes(1 << 20)
        for _ in range(mb):
            f.write(chunk)


def test_npz_bomb_is_refused_before_decompression(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    _npz_bomb(path, 64)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(BadInput) as err:
        read_table(path, {**limits_of(), "max_data_mb": 16})
    assert err.value.field == "data.path"
    assert "data.npz" in err.value.message and "'x.npy' decompressed is 64.0 MB" in err.value.message
    assert "general.max_data_mb = 16 MB" in err.value.message


def test_npz_that_is_not_a_zip_names_the_data_file(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(BadInput, match="data.path: cannot read data.npz: not a valid .npz archive"):
        read_table(path)


def test_parquet_checked_from_its_metadata(tiny_frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    tiny_frame.to_parquet(path)
    with pytest.raises(BadInput, match="300 rows, over the limit general.max_rows = 10"):
        read_table(path, {**limits_of(), "max_rows": 10})
    with pytest.raises(BadInput, match="8 columns, over the limit general.max_columns = 3"):
        read_table(path, {**limits_of(), "max_columns": 3})
    assert len(read_table(path)) == 300


def test_csv_larger_than_the_limit_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b\n" + "1,2\n" * 300_000)  # ~1.2 MB
    with pytest.raises(BadInput, match=r"data.csv: the file is 1.\d MB, over the limit general.max_data_mb = 1 MB"):
        read_table(path, {**limits_of(), "max_data_mb": 1})
