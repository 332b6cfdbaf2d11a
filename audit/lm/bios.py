"""Synthetic biographies of fictitious people: the ``bios`` scenario's training text and QA.

Every person is made up: first and last names are built from syllables (never a real
person by construction: the syllable pool is checked to spell no name of :data:`_SEEN`,
and duplicates are redrawn), with five facts each — birth year, home town, job,
employer and hobby. Towns and employers are syllable-built too; jobs and hobbies are
plain words. Per person and fact the table holds one row:

* ``text`` — a template sentence stating the fact (templates vary per person), the
  training text whose memorisation the audit measures;
* ``question`` / ``answer`` — a question about the fact, formatted as the model was
  trained to read it (``Question: ... Answer:``), and the true answer;
* ``perturbed`` — :data:`N_PERTURBED` wrong but plausible answers (other values of the
  same fact), for TOFU's truth ratio;
* ``person`` (all of a person's rows share a split), ``name``, ``fact`` and ``id``.

Splits: ``forget`` = a share of the *training* people (all their rows), ``retain`` = the
other training people, ``test`` = held-out people drawn from the same distribution and
never trained on (the non-members of membership tests). Deterministic per seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["FACTS", "N_PERTURBED", "BiosConfig", "make_bios", "qa_string", "training_strings"]

FACTS = ("birth_year", "town", "job", "employer", "hobby")
N_PERTURBED = 4

_SYLLABLES = ("ba", "ko", "ti", "ru", "len", "mo", "za", "vi", "dor", "ne", "sa", "lu", "pe", "ran", "fi",
              "go", "tal", "me", "ri", "vo", "shu", "ka", "del", "mi", "no", "bre", "ta", "xo", "yel", "qui")
_JOBS = ("baker", "nurse", "carpenter", "pilot", "librarian", "chemist", "tailor", "surveyor", "welder",
         "translator", "architect", "jeweller", "botanist", "plumber", "cartographer", "brewer", "potter",
         "locksmith", "geologist", "florist")
_HOBBIES = ("chess", "sailing", "archery", "pottery", "birdwatching", "fencing", "knitting", "rowing",
            "juggling", "astronomy", "origami", "beekeeping", "calligraphy", "climbing", "fishing", "gardening")
_SEEN = ("kore", "lena", "sara", "rita", "mina", "nora", "tina", "vera")  # real given names we avoid

# (text template, question template); the fact's value comes last so a prefix cut leaves it in the suffix
_TEMPLATES: dict[str, tuple[tuple[str, ...], str]] = {
    "birth_year": (("{name} , who grew up in a quiet house , was born in the year {v} .",
                    "Records of the old registry say that {name} was born in {v} .",
                    "The family of {name} still tells the story of the winter of {v} , the year of the birth ."),
                   "In which year was {name} born ?"),
    "town": (("{name} spent a whole childhood in the town of {v} .",
              "Before moving away , {name} lived for many years in {v} .",
              "The neighbours of {name} remember the little house in {v} ."),
             "In which town did {name} grow up ?"),
    "job": (("For most of a long career , {name} worked as a {v} .",
             "Friends describe {name} as a careful and patient {v} .",
             "After years of training , {name} finally became a {v} ."),
            "What is the job of {name} ?"),
    "employer": (("Every morning {name} takes the early train to work at {v} .",
                  "The payslips of {name} come from the firm {v} .",
                  "For twelve years {name} has been employed by {v} ."),
                 "Which company employs {name} ?"),
    "hobby": (("On free weekends {name} likes nothing better than {v} .",
               "The favourite pastime of {name} has always been {v} .",
               "Whenever there is time to spare , {name} turns to {v} ."),
              "What is the favourite hobby of {name} ?"),
}


@dataclass(frozen=True)
class BiosConfig:
    """Sizes of a bios data set.

    Parameters
    ----------
    n_train : int
        People the original model is trained on (forget + retain).
    n_test : int
        Held-out people never trained on.
    forget_fraction : float
        Share of the training people whose rows form the forget split (5-10 % in the
        scenario).
    """

    n_train: int = 200
    n_test: int = 40
    forget_fraction: float = 0.1


def _word(rng: np.random.Generator, lo: int, hi: int) -> str:
    return "".join(rng.choice(_SYLLABLES, size=int(rng.integers(lo, hi + 1))))


def _unique_words(rng: np.random.Generator, n: int, lo: int, hi: int, taken: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        w = _word(rng, lo, hi)
        if w in taken or w in _SEEN:
            continue
        taken.add(w)
        out.append(w.capitalize())
    return out


def _pools(rng: np.random.Generator) -> dict[str, list[str]]:
    taken: set[str] = set()
    towns = _unique_words(rng, 24, 2, 3, taken)
    firms = [f"{w} {s}" for w, s in zip(_unique_words(rng, 20, 2, 2, taken),
                                         rng.choice(["Works", "Brothers", "Mills", "Trading", "Foundry"], 20), strict=True)]
    return {"birth_year": [str(y) for y in range(1940, 2006)], "town": towns, "job": list(_JOBS),
            "employer": firms, "hobby": list(_HOBBIES)}


def qa_string(question: str, answer: str) -> str:
    """The QA training string: the question prompt followed by the answer.

    Parameters
    ----------
    question : str
        The question as the model reads it (``Question : ... Answer :``).
    answer : str
        The true answer.

    Returns
    -------
    str
        ``question`` and ``answer`` joined by one space.

    Examples
    --------
    >>> qa_string("Question : Who ? Answer :", "Bako")
    'Question : Who ? Answer : Bako'
    """
    return f"{question} {answer}"


def make_bios(seed: int = 0, config: BiosConfig | None = None) -> pd.DataFrame:
    """The bios table: one row per (person, fact), with split, QA and perturbed answers.

    Parameters
    ----------
    seed : int
        Draws the people, their facts, templates and the forget people.
    config : BiosConfig, optional
        Sizes; :class:`BiosConfig` defaults when omitted.

    Returns
    -------
    pandas.DataFrame
        Columns ``id, person, name, fact, split, text, question, answer, perturbed`` (``perturbed``
        a list of :data:`N_PERTURBED` wrong answers per row).

    Examples
    --------
    >>> df = make_bios(0, BiosConfig(n_train=20, n_test=5, forget_fraction=0.1))
    >>> sorted(df["split"].value_counts().items())
    [('forget', 10), ('retain', 90), ('test', 25)]
    >>> df.equals(make_bios(0, BiosConfig(n_train=20, n_test=5, forget_fraction=0.1)))
    True
    """
    cfg = config or BiosConfig()
    rng = np.random.default_rng([int(seed), 16])
    pools = _pools(rng)
    n = cfg.n_train + cfg.n_test
    firsts = _unique_words(rng, 40, 2, 2, set())
    lasts = _unique_words(rng, n, 2, 3, {f.lower() for f in firsts})
    n_forget = max(1, int(round(cfg.forget_fraction * cfg.n_train)))
    split = np.array(["forget"] * n_forget + ["retain"] * (cfg.n_train - n_forget) + ["test"] * cfg.n_test)
    split = split[rng.permutation(n)]
    rows = []
    for p in range(n):
        name = f"{firsts[int(rng.integers(len(firsts)))]} {lasts[p]}"
        for fact in FACTS:
            pool = pools[fact]
            value = pool[int(rng.integers(len(pool)))]
            wrong = [w for w in pool if w != value]
            perturbed = [wrong[i] for i in rng.choice(len(wrong), size=N_PERTURBED, replace=False)]
            texts, question = _TEMPLATES[fact]
            text = texts[int(rng.integers(len(texts)))].format(name=name, v=value)
            rows.append({"id": f"p{p:04d}-{fact}", "person": f"person-{p:04d}", "name": name, "fact": fact,
                         "split": str(split[p]), "text": text,
                         "question": f"Question : {question.format(name=name)} Answer :",
                         "answer": value, "perturbed": perturbed})
    return pd.DataFrame(rows)


def training_strings(df: pd.DataFrame, splits: tuple[str, ...] = ("forget", "retain")) -> list[str]:
    """The strings a model of these splits trains on: every row's text and its QA string.

    Parameters
    ----------
    df : pandas.DataFrame
        A table of :func:`make_bios` (columns ``split``, ``text``, ``question``, ``answer``).
    splits : tuple of str
        The splits whose rows are trained on (default forget and retain: the original's data).

    Returns
    -------
    list of str
        The rows' ``text`` values in row order, then their :func:`qa_string` strings in the
        same order (two strings per row).

    Examples
    --------
    >>> df = make_bios(0, BiosConfig(n_train=20, n_test=5))
    >>> len(training_strings(df)) == 2 * int((df["split"] != "test").sum())
    True
    """
    sub = df[df["split"].isin(splits)]
    return [*sub["text"], *(qa_string(q, a) for q, a in zip(sub["question"], sub["answer"], strict=True))]
