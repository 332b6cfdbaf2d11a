"""Hostile model and data files, built once into the base directory."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["build_models", "Payload", "write_payload_pickle", "write_npz_bomb"]


class Payload:
    """Unpickling this calls ``os.mkdir(path)``: proof that a pickle ran."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.mkdir, (self.path,)


def write_payload_pickle(dest: Path, sentinel: Path) -> Path:
    """A pickle (works for ``.pkl``, ``.joblib``, legacy ``torch.load``) that creates ``sentinel``."""
    dest.write_bytes(pickle.dumps(Payload(sentinel), protocol=2))
    return dest


def _torchscript(models: Path) -> None:
    import torch
    from torch import nn

    class Scaled(nn.Module):
        def __init__(self, n_in: int, n_out: int, scale: float, shift: float) -> None:
            super().__init__()
            self.lin = nn.Linear(n_in, n_out)
            self.scale, self.shift = scale, shift

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x) * self.scale + self.shift

    class Rows(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:1, :2]

    class ThreeD(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.unsqueeze(0)

    class Raises(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[0] > 0:
                raise RuntimeError("model refuses to run")
            return x

    torch.manual_seed(0)
    variants = {
        "ts_good.pt": Scaled(4, 2, 1.0, 0.0), "ts_nan.pt": Scaled(4, 2, float("nan"), 0.0),
        "ts_inf.pt": Scaled(4, 2, 1.0, float("inf")), "ts_one_class.pt": Scaled(4, 1, 1.0, 0.0),
        "ts_wrong_features.pt": Scaled(7, 2, 1.0, 0.0), "ts_rows.pt": Rows(),
        "ts_3d.pt": ThreeD(), "ts_raises.pt": Raises(),
    }
    for name, module in variants.items():
        torch.jit.save(torch.jit.script(module.eval()), str(models / name))


def _onnx(models: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    for name, w in (("onnx_good.onnx", np.ones((4, 2), np.float32)),
                    ("onnx_nan.onnx", np.full((4, 2), np.nan, np.float32)),
                    ("onnx_one_class.onnx", np.ones((4, 1), np.float32))):
        init = helper.make_tensor("W", TensorProto.FLOAT, list(w.shape), w.tobytes(), raw=True)
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["X", "W"], ["Y"])], "g",
            [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
            [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, w.shape[1]])], [init])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        onnx.save(model, str(models / name))


def write_npz_bomb(dest: Path, n_rows: int, itemsize: int) -> Path:
    """An ``.npz`` whose ``split`` member inflates to ``n_rows * 4 * itemsize`` bytes of NULs.

    The other members are a valid tiny table; the archive itself stays a few MB.
    """
    rng = np.random.default_rng(0)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": f"<U{itemsize}", "fortran_order": False,
                                                  "shape": (n_rows,)})
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for col in ("f0", "f1", "f2", "f3"):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, rng.normal(size=n_rows))
            z.writestr(f"{col}.npy", buf.getvalue())
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.arange(n_rows) % 2)
        z.writestr("label.npy", buf.getvalue())
        with z.open("split.npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            zeros = bytes(1 << 24)
            remaining = n_rows * 4 * itemsize
            while remaining > 0:
                f.write(zeros[:min(remaining, len(zeros))])
                remaining -= len(zeros)
    return dest


def build_models(models: Path) -> Path:
    """TorchScript and ONNX models (good, NaN, inf, wrong shapes, raising) and an NPZ bomb."""
    models.mkdir(parents=True)
    _torchscript(models)
    _onnx(models)
    write_npz_bomb(models / "bomb.npz", n_rows=300, itemsize=1 << 20)
    return models
