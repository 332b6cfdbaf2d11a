"""The bios data: fictitious people, one split per person, wrong answers that are wrong."""

from __future__ import annotations

import itertools

import numpy as np

from audit.lm.bios import FACTS, N_PERTURBED, BiosConfig, make_bios, training_strings
from audit.lm.tokenizer import build_tokenizer

CFG = BiosConfig(n_train=80, n_test=20, forget_fraction=0.1)


def test_deterministic_per_seed_and_different_across_seeds() -> None:
    a, b, c = make_bios(3, CFG), make_bios(3, CFG), make_bios(4, CFG)
    assert a.equals(b)
    assert not a["text"].equals(c["text"])


def test_every_person_in_one_split_with_every_fact() -> None:
    df = make_bios(0, CFG)
    assert (df.groupby("person")["split"].nunique() == 1).all()
    assert (df.groupby("person")["fact"].apply(lambda f: sorted(f) == sorted(FACTS))).all()
    people = df.groupby("person")["split"].first().value_counts()
    assert people["forget"] == 8 and people["retain"] == 72 and people["test"] == 20


def test_names_unique_and_answers_stated_in_the_text() -> None:
    df = make_bios(1, CFG)
    assert df.groupby("person")["name"].first().is_unique
    assert all(a in t and n in t and n in q
               for a, n, t, q in zip(df["answer"], df["name"], df["text"], df["question"], strict=True))


def test_perturbed_answers_are_distinct_and_wrong() -> None:
    df = make_bios(2, CFG)
    for a, wrong in zip(df["answer"], df["perturbed"], strict=True):
        assert len(wrong) == N_PERTURBED == len(set(wrong)) and a not in wrong


def test_training_strings_never_contain_a_held_out_person() -> None:
    df = make_bios(0, CFG)
    train = " ".join(training_strings(df))
    test_names = set(df.loc[df["split"] == "test", "name"])
    assert test_names and not any(n in train for n in test_names)
    forget_only = set(training_strings(df, ("forget",)))
    assert forget_only and forget_only.isdisjoint(training_strings(df, ("retain",)))


def test_tokenizer_covers_the_corpus_and_reloads(tmp_path) -> None:  # noqa: ANN001
    from transformers import AutoTokenizer

    from audit.lm.tokenizer import save_tokenizer

    df = make_bios(0, CFG)
    corpus = [*df["text"], *df["question"], *df["answer"], *itertools.chain(*df["perturbed"])]
    tok = build_tokenizer(corpus)
    save_tokenizer(tok, tmp_path)
    again = AutoTokenizer.from_pretrained(str(tmp_path), local_files_only=True)
    ids = [again(t)["input_ids"] for t in corpus]
    assert all(i[0] == again.bos_token_id for i in ids)
    assert not any(again.unk_token_id in i for i in ids)
    assert again.decode(ids[0], skip_special_tokens=True) == corpus[0]
    assert again.pad_token == "[PAD]" and np.all([a == b for a, b in zip(ids, [tok(t)["input_ids"] for t in corpus], strict=True)])
