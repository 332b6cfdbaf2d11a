"""Hostile data files and model files (``data/…`` and ``model/…`` inputs)."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import numpy as np
import pandas as pd

from tests.fuzz.artifacts import Payload, write_payload_pickle
from tests.fuzz.base import edit_toml
from tests.fuzz.spec import Ctx, Input, run_case

__all__ = ["data_inputs", "model_inputs"]

Frame = Callable[[pd.DataFrame], pd.DataFrame]


def _frame(fn: Frame) -> Callable[[Ctx], list[str]]:
    """data.csv rewritten through ``fn``."""
    def prep(ctx: Ctx) -> list[str]:
        df = pd.read_csv(ctx.case / "data.csv")
        fn(df).to_csv(ctx.case / "data.csv", index=False)
        return run_case(ctx)
    return prep


def _set(col: str, rows: slice, value: object) -> Frame:
    def fn(df: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(value, (int, float, np.floating)):
            df[col] = df[col].astype(object)
        elif isinstance(value, (float, np.floating)) and df[col].dtype.kind in "iu":
            df[col] = df[col].astype(float)
        df.loc[df.index[rows], col] = value
        return df
    return fn


def _as(fmt: str, mangle: Callable[[bytes], bytes] | None = None,
        frame: Frame | None = None) -> Callable[[Ctx], list[str]]:
    """data.csv converted to ``fmt`` (``parquet`` / ``npz`` / ``csv``), then ``mangle``d."""
    def prep(ctx: Ctx) -> list[str]:
        df = pd.read_csv(ctx.case / "data.csv")
        df = frame(df) if frame else df
        dest = ctx.case / f"data2.{fmt}"
        if fmt == "parquet":
            df.to_parquet(dest)
        elif fmt == "npz":
            text = ("split", "school", "row_id")  # pandas may read them as object or as str dtype
            np.savez(dest, **{c: df[c].to_numpy() for c in df.columns if c not in text},
                     split=df["split"].to_numpy(str), school=df["school"].to_numpy(str),
                     row_id=df["row_id"].to_numpy(str))
        else:
            df.to_csv(dest, index=False)
        if mangle:
            dest.write_bytes(mangle(dest.read_bytes()))
        edit_toml(ctx.case, 'path = "data.csv"', f'path = "data2.{fmt}"')
        return run_case(ctx)
    return prep


def _raw(name: str, data: bytes) -> Callable[[Ctx], list[str]]:
    def prep(ctx: Ctx) -> list[str]:
        (ctx.case / name).write_bytes(data)
        edit_toml(ctx.case, 'path = "data.csv"', f'path = "{name}"')
        return run_case(ctx)
    return prep


def _npz(**arrays: object) -> Callable[[Ctx], list[str]]:
    def prep(ctx: Ctx) -> list[str]:
        np.savez(ctx.case / "d.npz", **arrays)
        edit_toml(ctx.case, 'path = "data.csv"', 'path = "d.npz"')
        return run_case(ctx)
    return prep


def _many_groups(n_rows: int, n_groups: int) -> Callable[[Ctx], list[str]]:
    """The tiny table tiled to ``n_rows`` rows with a group column of ``n_groups`` values."""
    def fn(df: pd.DataFrame) -> pd.DataFrame:
        big = pd.concat([df] * (n_rows // len(df) + 1), ignore_index=True).iloc[:n_rows]
        big["row_id"] = [f"r{i}" for i in range(n_rows)]
        big["split"] = np.where(np.arange(n_rows) % 10 == 0, "forget",
                                np.where(np.arange(n_rows) % 10 < 7, "retain", "test"))
        big["school"] = [f"g{i % n_groups}" for i in range(n_rows)]
        return big
    return _frame(fn)


def _half(b: bytes) -> bytes:
    return b[: len(b) // 2]


_FRAMES: dict[str, Frame] = {
    "label_nan": _set("label", slice(0, 3), np.nan),
    "label_fraction": _set("label", slice(0, 1), 0.5),
    "label_string": _set("label", slice(0, 1), "cat"),
    "label_negative": _set("label", slice(0, 1), -1),
    "label_out_of_range": _set("label", slice(0, 1), 7),
    "label_huge": _set("label", slice(0, 1), 2**62),
    "feature_nan": _set("f2", slice(3, 5), np.nan),
    "feature_inf": _set("f1", slice(0, 1), np.inf),
    "feature_neg_inf": _set("f1", slice(0, 1), -np.inf),
    "feature_float32_overflow": _set("f0", slice(0, 1), 1e300),
    "feature_string": _set("f3", slice(0, 1), "high"),
    "split_nan": _set("split", slice(50, 52), np.nan),
    "split_unknown": _set("split", slice(60, 61), "validation"),
    "split_capitalised": _set("split", slice(0, 40), "Forget"),
    "split_all_retain": _set("split", slice(0, 300), "retain"),
    "split_empty_test": _set("split", slice(200, 300), "retain"),
    "split_single_forget_row": _set("split", slice(1, 40), "retain"),
    "split_single_test_row": _set("split", slice(201, 300), "retain"),
    "split_no_retain": _set("split", slice(40, 200), "test"),
    "id_nan": _set("row_id", slice(0, 2), np.nan),
    "id_forget_and_test": _set("row_id", slice(250, 251), "r0"),
    "no_rows": lambda df: df.iloc[:0],
    "drop_label_column": lambda df: df.drop(columns=["label"]),
    "drop_feature_column": lambda df: df.drop(columns=["f3"]),
    "extra_feature_column": lambda df: df.assign(f4=1.0),
}

# Inputs a fix may either refuse (2) or audit to an inconclusive verdict (3), never pass/fail.
_MAY_AUDIT = {k: {"expect": frozenset({2, 3}), "allowed_new": ("pack", "pack.commitment-key")}
              for k in ("split_single_forget_row", "split_single_test_row", "split_no_retain")}


def data_inputs() -> list[Input]:
    """Data inputs: wrong values per column, empty/single-row splits, broken files, bombs."""
    out = [Input(f"data/{k}", _frame(fn), **_MAY_AUDIT.get(k, {})) for k, fn in _FRAMES.items()]
    out += [
        Input("data/csv_truncated_mid_row", _as("csv", lambda b: b[: len(b) // 2 + 7])),
        Input("data/csv_empty_file", _raw("e.csv", b"")),
        Input("data/csv_header_only", _raw("h.csv", b"f0,f1,f2,f3,label,split\n")),
        Input("data/csv_binary", _raw("b.csv", bytes(range(256)) * 8)),
        Input("data/csv_utf16", _as("csv", lambda b: b.decode().encode("utf-16"))),
        Input("data/parquet_truncated", _as("parquet", _half)),
        Input("data/parquet_garbage", _raw("g.parquet", b"PAR1" + b"\x00" * 64 + b"PAR1")),
        Input("data/parquet_wrong_dtypes", _as("parquet", frame=lambda df: df.astype(str))),
        Input("data/npz_truncated", _as("npz", _half)),
        Input("data/npz_not_zip", _raw("n.npz", b"PK\x03\x04garbage")),
        Input("data/npz_3d_array", _npz(x=np.zeros((3, 3, 3)), label=np.zeros(3), split=np.array(["a"] * 3))),
        Input("data/npz_mismatched_lengths", _npz(f0=np.zeros(10), label=np.zeros(9, int),
                                                  split=np.array(["forget"] * 10))),
        Input("data/npz_object_array", _npz(f0=np.array([{"a": 1}] * 4, dtype=object),
                                            label=np.zeros(4, int), split=np.array(["test"] * 4))),
        Input("data/npz_bomb", lambda c: (shutil.copy(c.base.models / "bomb.npz", c.case / "bomb.npz"),
                                          edit_toml(c.case, 'path = "data.csv"', 'path = "bomb.npz"'),
                                          run_case(c))[2], note="1.2 GB of NULs in the split member"),
        Input("data/groups_2000_values", _many_groups(2000, 2000), timeout=240),
        Input("data/groups_12000_values", _many_groups(12000, 12000), timeout=240),
        Input("data/pickle_in_npz", lambda c: (
            np.savez(c.case / "p.npz", f0=np.array([Payload(c.sentinel)], dtype=object)),
            edit_toml(c.case, 'path = "data.csv"', 'path = "p.npz"'), run_case(c))[2]),
    ]
    return out


def _use(src: str, dest: str | None = None, role: str = "unlearned",
         spec: str | None = None, *extra: str) -> Callable[[Ctx], list[str]]:
    """``models.<role>`` replaced by base model ``src`` (copied as ``dest``), or by ``spec``."""
    def prep(ctx: Ctx) -> list[str]:
        name = dest or src
        shutil.copy(ctx.base.models / src, ctx.case / name)
        value = spec.replace("{name}", name) if spec else f'"{name}"'
        edit_toml(ctx.case, f'{role} = "{role}.skops"', f"{role} = {value}")
        return run_case(ctx, *extra)
    return prep


def _bytes(name: str, mangle: Callable[[bytes], bytes], src: str | None = None) -> Callable[[Ctx], list[str]]:
    """``unlearned`` replaced by ``mangle(bytes of src)`` written as ``name``."""
    def prep(ctx: Ctx) -> list[str]:
        data = (ctx.base.models / src).read_bytes() if src else (ctx.case / "unlearned.skops").read_bytes()
        (ctx.case / name).write_bytes(mangle(data))
        edit_toml(ctx.case, 'unlearned = "unlearned.skops"', f'unlearned = "{name}"')
        return run_case(ctx)
    return prep


def _payload(name: str, spec: str = '"{name}"', *extra: str) -> Callable[[Ctx], list[str]]:
    """``unlearned`` replaced by a pickle that would create the sentinel."""
    def prep(ctx: Ctx) -> list[str]:
        write_payload_pickle(ctx.case / name, ctx.sentinel)
        edit_toml(ctx.case, 'unlearned = "unlearned.skops"',
                  "unlearned = " + spec.replace("{name}", name))
        return run_case(ctx, *extra)
    return prep


def _evil_module(key: str) -> Callable[[Ctx], list[str]]:
    """A module in the working directory whose import creates the sentinel."""
    def prep(ctx: Ctx) -> list[str]:
        (ctx.work / "fuzzevil.py").write_text(f"import os\nos.mkdir({str(ctx.sentinel)!r})\n"
                                              "Net = fit = None\n")
        if key == "architecture":
            shutil.copy(ctx.base.models / "ts_good.pt", ctx.case / "w.pt")
            edit_toml(ctx.case, 'unlearned = "unlearned.skops"',
                      'unlearned = {path = "w.pt", architecture = "fuzzevil:Net"}')
        else:
            (ctx.case / "case.toml").write_text((ctx.case / "case.toml").read_text()
                                                + '\n[training]\nrecipe = "fuzzevil:fit"\n'
                                                  "[references]\ntrain = 1\n")
        return run_case(ctx)
    return prep


def _flip_middle(b: bytes) -> bytes:
    i = len(b) // 2
    return b[:i] + bytes([b[i] ^ 0xFF]) + b[i + 1:]


def model_inputs() -> list[Input]:
    """Model inputs: truncated/garbage files, pickles with payloads, shapes, NaN/inf outputs."""
    out = [
        Input("model/skops_truncated", _bytes("t.skops", _half)),
        Input("model/skops_empty", _bytes("e.skops", lambda b: b"")),
        Input("model/skops_flipped", _bytes("f.skops", _flip_middle)),
        Input("model/torchscript_truncated", _bytes("t.pt", _half, "ts_good.pt")),
        Input("model/torchscript_garbage", _bytes("g.pt", lambda b: b"\x80\x02garbage")),
        Input("model/onnx_truncated", _bytes("t.onnx", _half, "onnx_good.onnx")),
        Input("model/onnx_garbage", _bytes("g.onnx", lambda b: b"\x08\x07garbage" * 9)),
        Input("model/safetensors_garbage", _bytes("g.safetensors", lambda b: b"\xff" * 16)),
        Input("model/pickle_payload_pkl", _payload("m.pkl")),
        Input("model/pickle_payload_joblib", _payload("m.joblib")),
        Input("model/pickle_payload_as_pt", _payload("m.pt")),
        Input("model/pickle_payload_pt_with_arch", _payload(
            "m.pt", '{path = "{name}", architecture = "torch.nn:Linear", '
                    "kwargs = {in_features = 4, out_features = 2}}")),
        Input("model/pickle_payload_as_skops", _payload("m.skops")),
        Input("model/pickle_payload_format_forced", _payload("m.bin", '{path = "{name}", format = "pickle"}')),
        Input("model/torchscript_nan_output", _use("ts_nan.pt")),
        Input("model/torchscript_inf_output", _use("ts_inf.pt")),
        Input("model/torchscript_one_class", _use("ts_one_class.pt")),
        Input("model/torchscript_wrong_features", _use("ts_wrong_features.pt")),
        Input("model/torchscript_wrong_rows", _use("ts_rows.pt")),
        Input("model/torchscript_3d_output", _use("ts_3d.pt")),
        Input("model/torchscript_raises", _use("ts_raises.pt")),
        Input("model/onnx_nan_output", _use("onnx_nan.onnx")),
        Input("model/onnx_one_class", _use("onnx_one_class.onnx")),
        Input("model/import_module_from_cwd_architecture", _evil_module("architecture")),
        Input("model/import_module_from_cwd_recipe", _evil_module("recipe")),
    ]
    return out

