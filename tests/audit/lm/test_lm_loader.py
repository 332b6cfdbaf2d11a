"""Loading model directories: offline, safetensors only, no custom code, every refusal exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from audit.lm.loader import load_causal_lm
from audit.shared.errors import BadInput


def _copy(tiny_lms, tmp_path: Path, name: str = "m") -> Path:
    dest = tmp_path / name
    shutil.copytree(tiny_lms.root / "original", dest)
    return dest


def test_safetensors_directory_loads_offline_in_eval_mode(tiny_lms):
    lm = load_causal_lm(tiny_lms.root / "original", role="original")
    assert lm.format == "safetensors" and not lm.model.training
    assert lm.source_path.name == "model.safetensors" and len(lm.sha256) == 64
    assert lm.tokenizer.pad_token is not None and lm.max_positions == 16


def test_pickle_weights_refused_without_allow_pickle(tiny_lms, tmp_path):
    import torch

    d = _copy(tiny_lms, tmp_path)
    lm = load_causal_lm(d, role="unlearned")
    (d / "model.safetensors").unlink()
    torch.save(lm.model.state_dict(), d / "pytorch_model.bin")
    with pytest.raises(BadInput, match="models.unlearned: pytorch_model.bin is a PyTorch pickle") as e:
        load_causal_lm(d, role="unlearned")
    assert "--allow-pickle" in str(e.value)
    loaded = load_causal_lm(d, role="unlearned", allow_pickle=True)  # weights_only=True
    assert loaded.format == "bin"


@pytest.mark.parametrize("where", ["config.json", "tokenizer_config.json"])
def test_custom_code_refused(tiny_lms, tmp_path, where):
    d = _copy(tiny_lms, tmp_path)
    doc = json.loads((d / where).read_text())
    doc["auto_map"] = {"AutoModelForCausalLM": "evil.EvilModel"}
    (d / where).write_text(json.dumps(doc))
    (d / "evil.py").write_text("raise SystemExit('this must never run')\n")
    with pytest.raises(BadInput, match=rf"models.retrained\[1\]: {where} declares custom code"):
        load_causal_lm(d, role="retrained:1")


def test_missing_weights_gguf_and_non_directories_refused(tiny_lms, tmp_path):
    d = _copy(tiny_lms, tmp_path)
    (d / "model.safetensors").unlink()
    with pytest.raises(BadInput, match="no weights"):
        load_causal_lm(d, role="original")
    (d / "model.gguf").write_bytes(b"GGUF")
    with pytest.raises(BadInput, match="GGUF weights are not supported here"):
        load_causal_lm(d, role="original")
    with pytest.raises(BadInput, match="models.original: not a model directory"):
        load_causal_lm(d / "config.json", role="original")


def test_broken_config_and_mismatched_tokenizer_refused(tiny_lms, tmp_path):
    d = _copy(tiny_lms, tmp_path)
    (d / "config.json").write_text("{not json")
    with pytest.raises(BadInput, match="config.json is not readable JSON"):
        load_causal_lm(d, role="original")
    d2 = _copy(tiny_lms, tmp_path, "m2")
    cfg = json.loads((d2 / "config.json").read_text())
    (d2 / "config.json").write_text(json.dumps({k: v for k, v in cfg.items() if k != "model_type"}))
    with pytest.raises(BadInput, match="no model_type"):
        load_causal_lm(d2, role="original")


def test_loading_touches_no_network_and_restores_the_environment(tiny_lms, monkeypatch):
    import os
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("the loader tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert load_causal_lm(tiny_lms.root / "retrained-0", role="retrained:0").format == "safetensors"
    assert "HF_HUB_OFFLINE" not in os.environ
