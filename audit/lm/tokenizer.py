"""A word-level tokenizer over a generated corpus, saved as ``tokenizer.json``.

Built with the ``tokenizers`` library and wrapped as a ``transformers``
``PreTrainedTokenizerFast`` (pad, eos, bos and unk tokens), so a model directory written by
:mod:`audit.lm.train` loads with ``AutoTokenizer.from_pretrained(dir, local_files_only=True)``
like any Hugging Face checkpoint. Encoding adds ``[BOS]`` in front (the post-processor, as
Llama-style tokenizers do); a continuation encoded after a prompt takes
``add_special_tokens=False``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

__all__ = ["SPECIAL", "build_tokenizer", "save_tokenizer"]

SPECIAL = {"pad_token": "[PAD]", "eos_token": "[EOS]", "bos_token": "[BOS]", "unk_token": "[UNK]"}


def build_tokenizer(corpus: Iterable[str]) -> PreTrainedTokenizerFast:
    """A word-level tokenizer whose vocabulary is every word and punctuation mark of ``corpus``.

    Parameters
    ----------
    corpus : iterable of str
        Every string the tokenizer must encode without ``[UNK]`` (the scenario passes all
        texts, questions, answers and perturbed answers, of every split).

    Returns
    -------
    transformers.PreTrainedTokenizerFast
        With ``[PAD]`` (id 0), ``[EOS]``, ``[BOS]``, ``[UNK]``; encoding prepends ``[BOS]``.

    Examples
    --------
    >>> tok = build_tokenizer(["Bako Tirulen was born in 1967 ."])
    >>> tok.convert_ids_to_tokens(tok("Bako was born")["input_ids"])
    ['[BOS]', 'Bako', 'was', 'born']
    >>> tok.pad_token_id, tok.decode(tok("in 1967 .", add_special_tokens=False)["input_ids"])
    (0, 'in 1967 .')
    """
    specials = [SPECIAL["pad_token"], SPECIAL["eos_token"], SPECIAL["bos_token"], SPECIAL["unk_token"]]
    tok = Tokenizer(models.WordLevel(unk_token=SPECIAL["unk_token"]))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.train_from_iterator(list(corpus), trainers.WordLevelTrainer(special_tokens=specials, min_frequency=1))
    bos = SPECIAL["bos_token"]
    tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A $B",
                                                       special_tokens=[(bos, tok.token_to_id(bos))])

    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    return PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIAL)


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, directory: str | Path) -> None:
    """Write ``tokenizer.json`` and its config into ``directory`` (created if needed).

    Parameters
    ----------
    tokenizer : PreTrainedTokenizerFast
        From :func:`build_tokenizer`.
    directory : str or Path
        Where the files go (``tokenizer.save_pretrained``); parents are created too.

    Examples
    --------
    >>> import tempfile
    >>> from transformers import AutoTokenizer
    >>> d = tempfile.mkdtemp(); save_tokenizer(build_tokenizer(["a b ."]), d)
    >>> AutoTokenizer.from_pretrained(d, local_files_only=True).eos_token
    '[EOS]'
    """
    Path(directory).mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(directory))
