"""Loading a local Hugging Face causal language model, offline and without running its code.

A model is a directory: ``config.json``, the weights (``model.safetensors``, or shards
``model-00001-of-0000N.safetensors``) and the tokenizer files (``tokenizer.json`` or a
slow tokenizer's vocabulary). The rules:

* nothing is downloaded: ``local_files_only=True`` and, while loading, the Hub's offline
  mode (``HF_HUB_OFFLINE``) is switched on and restored afterwards;
* no code from the directory runs: ``trust_remote_code=False``, and a ``config.json`` or
  ``tokenizer_config.json`` with an ``auto_map`` (custom model / tokenizer classes) is refused
  up front, naming the file;
* weights are read from safetensors only; a PyTorch ``.bin`` (a pickle) needs
  ``allow_pickle`` (``--allow-pickle``) and is then read with ``torch.load(weights_only=True)``;
* GGUF is refused: transformers' GGUF reader needs the ``gguf`` package, which this build
  does not ship.

Every failure is :class:`audit.shared.errors.BadInput` naming ``models.<role>``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.core.model_formats import file_sha256
from audit.shared.errors import BadInput, one_line

__all__ = ["LanguageModel", "load_causal_lm", "is_model_directory", "offline"]


@dataclass
class LanguageModel:
    """A loaded causal LM: the transformers model (eval mode, CPU, float32) and its tokenizer.

    ``sha256`` is the digest of the weight file(s) in name order; ``source_path`` the (first)
    weight file, which the evidence pack's manifest records; ``provenance`` names the directory.

    Attributes
    ----------
    model : transformers.PreTrainedModel
        The causal LM (``AutoModelForCausalLM``).
    tokenizer : transformers.PreTrainedTokenizerBase
        Its tokenizer, with a pad token set where one could be chosen.
    path : Path
        The model directory.
    sha256 : str
        Digest of the weight file(s), in name order.
    format : str
        ``"safetensors"`` or ``"bin"`` (a PyTorch pickle, read only with ``allow_pickle``).
    weight_files : list of Path
        The weight file(s) read, in name order.

    Examples
    --------
    >>> import types
    >>> cfg = types.SimpleNamespace(vocab_size=8, n_positions=16)
    >>> lm = LanguageModel(types.SimpleNamespace(config=cfg), None, Path("m"), "0" * 64, "safetensors",
    ...                    [Path("m/model.safetensors")])
    >>> lm.vocab_size, lm.max_positions, lm.source_path.name
    (8, 16, 'model.safetensors')
    """

    model: Any
    tokenizer: Any
    path: Path
    sha256: str
    format: str
    weight_files: list[Path] = field(default_factory=list)

    @property
    def source_path(self) -> Path:
        """The first weight file (what the evidence pack's manifest records)."""
        return self.weight_files[0]

    @property
    def provenance(self) -> dict[str, Any]:
        """Where the model came from: ``{"source": "case", "directory": <directory name>}``."""
        return {"source": "case", "directory": self.path.name}

    @property
    def max_positions(self) -> int | None:
        """The longest input (tokens) the model's position embeddings allow, if it has a limit."""
        cfg = self.model.config
        for key in ("n_positions", "max_position_embeddings", "n_ctx"):
            value = getattr(cfg, key, None)
            if isinstance(value, int) and value > 0:
                return value
        return None

    @property
    def vocab_size(self) -> int:
        """The model's vocabulary size (``config.vocab_size``)."""
        return int(self.model.config.vocab_size)


def is_model_directory(spec: Any, base_dir: Path | None = None) -> bool:
    """Whether a case-file model entry names a directory holding a ``config.json``.

    Parameters
    ----------
    spec : object
        The entry: a path (str or Path) or a table with a ``path`` key; anything else is not
        a directory.
    base_dir : Path, optional
        Directory a relative path is resolved against (the case file's).

    Returns
    -------
    bool
        True when the path is a directory with a ``config.json`` file in it.

    Examples
    --------
    >>> is_model_directory("no/such/dir")
    False
    """
    if isinstance(spec, dict):
        spec = spec.get("path")
    if not isinstance(spec, (str, Path)):
        return False
    path = Path(spec)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    return path.is_dir() and (path / "config.json").is_file()


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """The Hugging Face Hub in offline mode for the duration (environment and the hub's constant);
    transformers' progress bars are off meanwhile (a CI log gets no bar per model).

    ``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE`` are set to ``"1"`` and
    ``huggingface_hub.constants.HF_HUB_OFFLINE`` to True; on exit both are restored, and the
    progress bars are switched back on if they were on.

    Yields
    ------
    None
        Control, with the Hub offline.

    Examples
    --------
    >>> with offline():
    ...     os.environ["HF_HUB_OFFLINE"]
    '1'
    """
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({k: "1" for k in saved})
    constants = None
    with contextlib.suppress(ImportError):
        from huggingface_hub import constants
    old = getattr(constants, "HF_HUB_OFFLINE", None)
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if constants is not None:
            constants.HF_HUB_OFFLINE = old


def _read_json(path: Path, field: str) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(field, f"{path.name} is not readable JSON: {one_line(exc)}") from exc
    if not isinstance(doc, dict):
        raise BadInput(field, f"{path.name} must hold a JSON object")
    return doc


def _refuse_custom_code(directory: Path, field: str) -> dict[str, Any]:
    """The config, after refusing custom code (``auto_map``) in it or in the tokenizer config."""
    config = _read_json(directory / "config.json", field)
    for name, doc in (("config.json", config), ("tokenizer_config.json", None)):
        if doc is None:
            p = directory / name
            doc = _read_json(p, field) if p.is_file() else {}
        if "auto_map" in doc:
            raise BadInput(field, f"{name} declares custom code (auto_map: {sorted(doc['auto_map'])}); "
                           "models that need trust_remote_code are refused: their Python files would run")
    if not isinstance(config.get("model_type"), str):
        raise BadInput(field, "config.json has no model_type: not a transformers model directory")
    return config


def _weights(directory: Path, field: str, allow_pickle: bool) -> tuple[str, list[Path]]:
    """The weight format and files of a model directory (safetensors first)."""
    safetensors = sorted(directory.glob("*.safetensors"))
    if safetensors:
        return "safetensors", safetensors
    pickles = sorted(directory.glob("*.bin")) + sorted(directory.glob("*.pt")) + sorted(directory.glob("*.pth"))
    if pickles:
        if not allow_pickle:
            raise BadInput(field, f"{pickles[0].name} is a PyTorch pickle (no .safetensors in {directory.name}); "
                           "pass --allow-pickle to trust it (it is then read with weights_only=True), or "
                           "convert it to safetensors")
        return "bin", pickles
    if sorted(directory.glob("*.gguf")):
        raise BadInput(field, "GGUF weights are not supported here: transformers' GGUF reader needs the "
                       "`gguf` package, which is not installed; convert the model to safetensors")
    raise BadInput(field, f"no weights in {directory}: expected model.safetensors")


def _tokenizer(directory: Path, field: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(directory), local_files_only=True, trust_remote_code=False)
    except Exception as exc:  # noqa: BLE001 - any loader failure is bad input naming the model
        raise BadInput(field, f"cannot load the tokenizer from {directory.name}: {one_line(exc)}") from exc
    if not getattr(tok, "is_fast", False) and not callable(getattr(tok, "encode", None)):
        raise BadInput(field, "the tokenizer cannot encode text")
    if tok.pad_token is None:  # padding is masked out; any known token serves as its id
        for candidate in (tok.eos_token, tok.unk_token, tok.bos_token):
            if candidate is not None:
                tok.pad_token = candidate
                break
    return tok


def load_causal_lm(path: str | os.PathLike[str], *, role: str, allow_pickle: bool = False) -> LanguageModel:
    """Load a local causal-LM directory (see the module docstring for the rules).

    Parameters
    ----------
    path : path
        The model directory.
    role : str
        Its role in the case (``"original"``, ``"unlearned"``, ``"retrained:0"`` ...), named
        in every error (``models.retrained[0]``).
    allow_pickle : bool
        Trust a PyTorch ``.bin`` pickle (read with ``weights_only=True``).

    Returns
    -------
    LanguageModel
        The model in eval mode on the CPU (float32), its tokenizer (with a pad token when the
        tokenizer has an end, unknown or start token) and the weights' digest.

    Examples
    --------
    >>> load_causal_lm("no/such/model", role="unlearned")
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: models.unlearned: not a model directory: no/such/model
    """
    from audit.core.outputs import field_of_role

    field = field_of_role(role)
    directory = Path(path)
    if not directory.is_dir():
        raise BadInput(field, f"not a model directory: {directory}")
    if not (directory / "config.json").is_file():
        raise BadInput(field, f"{directory.name} has no config.json: not a transformers model directory")
    _refuse_custom_code(directory, field)
    fmt, files = _weights(directory, field, allow_pickle)
    import torch
    from transformers import AutoModelForCausalLM

    with offline():
        try:
            model = AutoModelForCausalLM.from_pretrained(
                str(directory), local_files_only=True, trust_remote_code=False,
                use_safetensors=fmt == "safetensors", dtype=torch.float32)
        except Exception as exc:  # noqa: BLE001 - any loader failure is bad input naming the model
            raise BadInput(field, f"cannot load a causal LM from {directory.name}: {one_line(exc)}") from exc
        tok = _tokenizer(directory, field)
    model.eval()
    lm = LanguageModel(model, tok, directory, file_sha256(*files), fmt, files)
    if len(tok) > lm.vocab_size:
        raise BadInput(field, f"the tokenizer has {len(tok)} tokens but the model's vocabulary only "
                       f"{lm.vocab_size}: they do not belong together")
    return lm
