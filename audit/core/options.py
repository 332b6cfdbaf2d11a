"""Declared policy options: type, default, allowed values and what *tighter* means.

Every check declares its options next to its code (``SPEC.options``); ``[general]``
options are declared in :mod:`audit.engine.policy`. One declaration drives three things:

* validation of a policy value before any work starts (:func:`validate_value`) — the
  type is exact (``bool`` is not ``int``; NaN and infinities are refused; ``"auto"`` only
  where ``allow_auto``), ranges, choices and list elements (``items``);
* the gate rule (:func:`tightens`): with ``--policy GATE.toml`` a case file's
  ``[policy]`` may only move an option in its declared *tighter* direction;
* the policy reference table in README.md (:func:`audit.engine.policy_table.reference_table`).

``tighter`` is one of

``"lower"``     a smaller number is stricter (margins, factors);
``"higher"``    a larger number, or ``True`` over ``False``, is stricter (``required``);
``"superset"``  a list that keeps every gate item and may add more (``gate_on``, ``splits``);
``"unset"``     the case may set it only where the gate leaves the default (a feature name
                only the case knows);
``"neutral"``   no effect on strictness (``batch_size``, a cache directory): free;
a tuple        the choices ordered loosest first (``("warn", "fail")``);
``None``        no direction (e.g. ``alpha``, search sizes): fixed by the gate.

A number and ``"auto"`` cannot be compared, so swapping one for the other under a gate
is refused.
"""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.shared.errors import BadInput

__all__ = ["Option", "switches", "defaults_of", "validate_value", "tightens", "SPLITS"]

SPLITS = ("forget", "retain", "test")
_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
               list: "a list"}


@dataclass(frozen=True)
class Option:
    """Declaration of one policy option.

    Parameters
    ----------
    type : type
        ``bool``, ``int``, ``float`` (an integer is accepted and stored as a float),
        ``str`` or ``list``.
    default : Any
        The built-in value; must itself validate.
    doc : str
        One line: what the option means (shown in the README reference).
    minimum, maximum : float, optional
        Bounds of a number; inclusive unless ``exclusive_minimum`` / ``exclusive_maximum``.
    choices : tuple, optional
        The only values allowed.
    items : Option, optional
        Declaration every element of a list must satisfy.
    min_items : int
        Fewest elements a list may have.
    allow_auto : bool
        ``"auto"`` is accepted in place of a number.
    also : tuple
        Values accepted outside ``minimum`` / ``maximum`` (``0`` = off).
    multiple_of : int, optional
        An integer must be a multiple of this.
    tighter : str or tuple or None
        What a stricter value is; see the module docstring.
    from_case : str, optional
        Name of an ``AuditCase`` attribute (a list) that a non-default value must be in;
        checked once the case is loaded.
    check : callable, optional
        ``check(field, value)`` raises :class:`audit.shared.errors.BadInput` for a value the type and
        range allow but that cannot work (e.g. a directory nothing can be written to).

    Examples
    --------
    >>> margin = Option(float, 0.05, minimum=0, allow_auto=True, tighter="lower")
    >>> validate_value("policy.utility.accuracy_margin", margin, 0)
    0.0
    >>> validate_value("policy.utility.accuracy_margin", margin, -0.1)
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: policy.utility.accuracy_margin: must be >= 0, got -0.1
    """

    type: type
    default: Any = None
    doc: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple[Any, ...] | None = None
    items: Option | None = None
    min_items: int = 0
    allow_auto: bool = False
    also: tuple[Any, ...] = ()
    multiple_of: int | None = None
    tighter: str | tuple[Any, ...] | None = None
    from_case: str | None = None
    check: Callable[[str, Any], None] | None = field(default=None, compare=False)

    def describe(self) -> str:
        """The allowed values in words, e.g. ``'number >= 0, or "auto"'``.

        Returns
        -------
        str

        Examples
        --------
        >>> Option(int, 1000, minimum=100).describe()
        'integer >= 100'
        """
        parts = [_TYPE_NAMES[self.type].split(" ", 1)[1]]
        if self.choices is not None:
            parts = ["one of " + ", ".join(repr(c) for c in self.choices)]
        if self.items is not None:
            parts.append(f"of {self.items.describe()}")
            if self.min_items:
                parts.append(f"(at least {self.min_items})")
        lo = ">" if self.exclusive_minimum else ">="
        hi = "<" if self.exclusive_maximum else "<="
        if self.minimum is not None:
            parts.append(f"{lo} {_num(self.minimum)}")
        if self.maximum is not None:
            parts.append(("and " if self.minimum is not None else "") + f"{hi} {_num(self.maximum)}")
        if self.multiple_of:
            parts.append(f"(a multiple of {self.multiple_of})")
        if self.from_case:
            parts.append(f"among the case's {self.from_case}")
        text = " ".join(parts)
        extra = [repr(a) for a in self.also] + (['"auto"'] if self.allow_auto else [])
        return text + (", or " + " or ".join(extra) if extra else "")


def switches(required: bool) -> dict[str, Option]:
    """The two options every check has: ``required`` and ``enabled``.

    Parameters
    ----------
    required : bool
        The default of ``required``.

    Returns
    -------
    dict of str to Option

    Examples
    --------
    >>> sorted(switches(True))
    ['enabled', 'required']
    """
    return {
        "required": Option(bool, required, "the check's status counts towards the verdict",
                           tighter="higher"),
        "enabled": Option(bool, True, "run the check at all", tighter="higher"),
    }


def defaults_of(options: Mapping[str, Option]) -> dict[str, Any]:
    """``{name: default}`` of a declaration mapping (deep copies).

    Parameters
    ----------
    options : mapping of str to Option
        Declarations.

    Returns
    -------
    dict

    Examples
    --------
    >>> defaults_of(switches(False))
    {'required': False, 'enabled': True}
    """
    return {name: copy.deepcopy(opt.default) for name, opt in options.items()}


def _num(x: float) -> str:
    return f"{x:g}"


def _bad_type(field: str, opt: Option, value: Any) -> BadInput:
    want = _TYPE_NAMES[opt.type] + (' or "auto"' if opt.allow_auto else "")
    return BadInput(field, f"must be {want}, got {value!r}")


def _check_number(field: str, opt: Option, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad_type(field, opt, value)
    if opt.type is int and not isinstance(value, int):
        raise _bad_type(field, opt, value)
    if not math.isfinite(value):
        raise BadInput(field, f"must be finite, got {value!r}")
    value = float(value) if opt.type is float else value
    if value in opt.also:
        return value
    if opt.minimum is not None and (value < opt.minimum or (opt.exclusive_minimum and value == opt.minimum)):
        raise BadInput(field, f"must be {'>' if opt.exclusive_minimum else '>='} {_num(opt.minimum)}"
                       + (f" (or {', '.join(map(repr, opt.also))})" if opt.also else "") + f", got {value!r}")
    if opt.maximum is not None and (value > opt.maximum or (opt.exclusive_maximum and value == opt.maximum)):
        raise BadInput(field, f"must be {'<' if opt.exclusive_maximum else '<='} {_num(opt.maximum)}, "
                       f"got {value!r}")
    if opt.multiple_of and value % opt.multiple_of:
        raise BadInput(field, f"must be a multiple of {opt.multiple_of}, got {value!r}")
    return value


def _check_choice(field: str, opt: Option, value: Any) -> None:
    if opt.choices is not None and value not in opt.choices:
        close = difflib.get_close_matches(str(value).lower(), [str(c) for c in opt.choices], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise BadInput(field, f"{value!r} is not one of {list(opt.choices)}{hint}")


def validate_value(field: str, opt: Option, value: Any) -> Any:
    """Return ``value`` checked against ``opt`` (integers become floats for ``float``).

    Raises :class:`audit.shared.errors.BadInput` naming ``field`` (``field[i]`` for a list
    element) on the first violation.

    Parameters
    ----------
    field : str
        The dotted field named in errors (``policy.<section>.<key>``).
    opt : Option
        The declaration.
    value : any
        The value given.

    Returns
    -------
    any
        The value, normalised.

    Examples
    --------
    >>> gate_on = Option(list, ["kl"], items=Option(str, choices=("kl", "js")), min_items=1)
    >>> validate_value("policy.output_divergence.gate_on", gate_on, ["KL"])
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: policy.output_divergence.gate_on[0]: 'KL' is not one of ['kl', 'js']; did you mean 'kl'?
    """
    if opt.allow_auto and value == "auto":
        return value
    if opt.type in (int, float):
        value = _check_number(field, opt, value)
    elif opt.type is list:
        if not isinstance(value, list):
            raise _bad_type(field, opt, value)
        if len(value) < opt.min_items:
            raise BadInput(field, f"needs at least {opt.min_items} item(s), got {value!r}")
        if opt.items is not None:
            value = [validate_value(f"{field}[{i}]", opt.items, v) for i, v in enumerate(value)]
    elif type(value) is not opt.type:
        raise _bad_type(field, opt, value)
    _check_choice(field, opt, value)
    if opt.check is not None:  # a declared extra rule (e.g. a usable directory), before any work
        opt.check(field, value)
    return value


def tightens(opt: Option, gate: Any, case: Any) -> str | None:
    """``None`` when ``case`` is at least as strict as ``gate``, else why it is not.

    Parameters
    ----------
    opt : Option
        The declaration (its ``tighter`` direction).
    gate : any
        The gate policy's value.
    case : any
        The case's value.

    Returns
    -------
    str or None

    Examples
    --------
    >>> tightens(Option(float, 0.05, tighter="lower"), 0.05, 0.03) is None
    True
    >>> tightens(Option(str, "fail", tighter=("warn", "fail")), "fail", "warn")
    "may only move towards the end of ('warn', 'fail')"
    """
    if case == gate or opt.tighter == "neutral":
        return None
    rule = opt.tighter
    if rule is None:
        return "is fixed by the gate policy (no stricter direction is declared)"
    if rule in ("lower", "higher"):
        if "auto" in (gate, case):
            return 'cannot compare "auto" with a number; the gate value stands'
        ok = case < gate if rule == "lower" else case > gate
        return None if ok else f"may only be {'lowered' if rule == 'lower' else 'raised'}"
    if rule == "superset":
        return None if set(case) >= set(gate) else "may only add items to the gate's list"
    if rule == "unset":
        return None if gate == opt.default else "may only be set where the gate leaves it unset"
    if isinstance(rule, tuple):
        if rule.index(case) >= rule.index(gate):
            return None
        return f"may only move towards the end of {rule!r}"
    raise ValueError(f"unknown tighter rule {rule!r}")  # a declaration bug, not user input
