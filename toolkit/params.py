"""Parameter declarations: each plugin declares its parameters once, here.

A declaration is the single source for parsing ``--set plugin.param=value`` and MLproject
strings, for validation messages, for the MLflow params of a run and for the Optuna space of a
search. Plugin authors use the helpers::

    params = (
        Int("n_clusters", "auto", low=2, high=200, also=("auto",), searchable=True,
            space=(2, 20), help="number of clusters, or 'auto' for the selection rule"),
        Choice("init", "k-means++", choices=("k-means++", "random")),
    )
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

PARAM_TYPES = ("int", "float", "bool", "str", "choice")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NONE = {"none", "null", "~"}


@dataclass(frozen=True)
class Param:
    """One declared parameter.

    Attributes:
        name: identifier used after the plugin name (``kmeans.n_clusters``).
        type: one of ``int``, ``float``, ``bool``, ``str``, ``choice``.
        default: the value used when none is given (must itself be valid).
        help: one line shown by ``musiclust plugins`` and ``--help`` texts.
        low, high: inclusive bounds for ``int``/``float`` (either may be None).
        choices: the allowed values of a ``choice``.
        log: search on a log scale (for ``int``/``float``).
        searchable: whether a search may vary it.
        space: a narrower search domain, ``(low, high)`` or a subset of ``choices``.
        also: strings accepted besides the type's values, such as ``("auto",)``.
        nullable: ``None`` is accepted (written ``none`` on the command line).
    """

    name: str
    type: str
    default: Any
    help: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    log: bool = False
    searchable: bool = False
    space: tuple[Any, ...] | None = None
    also: tuple[str, ...] = field(default_factory=tuple)
    nullable: bool = False

    # -- validation ------------------------------------------------------------------------
    def validate(self, value: Any) -> Any:
        """Return the value normalised to the declared type, or raise ``ValueError``."""
        if value is None:
            if self.nullable:
                return None
            raise ValueError(f"expected {self.domain()}, got none")
        if isinstance(value, str) and value in self.also:
            return value
        checker = getattr(self, f"_check_{self.type}")
        return checker(value)

    def parse(self, text: str) -> Any:
        """Parse a command-line or MLproject string into a valid value."""
        text = text.strip()
        if self.nullable and text.lower() in _NONE:
            return None
        return self.validate(text)

    def _fail(self, value: Any) -> ValueError:
        return ValueError(f"expected {self.domain()}, got {value!r}")

    def _check_range(self, number: float, original: Any) -> None:
        if (self.low is not None and number < self.low) or (
            self.high is not None and number > self.high
        ):
            raise self._fail(original)

    def _check_int(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self._fail(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise self._fail(value) from None
        if not isinstance(value, int):
            raise self._fail(value)
        self._check_range(value, value)
        return value

    def _check_float(self, value: Any) -> float:
        if isinstance(value, bool):
            raise self._fail(value)
        original = value
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise self._fail(original) from None
        if not isinstance(value, int | float) or math.isnan(value):
            raise self._fail(original)
        self._check_range(float(value), original)
        return float(value)

    def _check_bool(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise self._fail(value)

    def _check_str(self, value: Any) -> str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        raise self._fail(value)

    def _check_choice(self, value: Any) -> Any:
        if value in self.choices and not isinstance(value, bool):
            return value
        for choice in self.choices:  # "2048" on the command line for an int choice
            if str(choice) == str(value):
                return choice
        raise self._fail(value)

    # -- description -----------------------------------------------------------------------
    def domain(self) -> str:
        """Human description of the accepted values, used in every error message."""
        if self.type == "int":
            text = "an integer" + _bounds(self.low, self.high)
        elif self.type == "float":
            text = "a number" + _bounds(self.low, self.high)
        elif self.type == "bool":
            text = "true or false"
        elif self.type == "choice":
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            text = "a string"
        extras = [repr(a) for a in self.also] + (["none"] if self.nullable else [])
        return text + "".join(f" or {e}" for e in extras)

    def problems(self) -> list[str]:
        """What is wrong with this declaration (empty when it is sound)."""
        out = []
        if not self.name.isidentifier():
            out.append(f"parameter name {self.name!r} is not an identifier")
        if self.type not in PARAM_TYPES:
            out.append(f"parameter {self.name!r} has unknown type {self.type!r}")
            return out
        if self.type == "choice" and not self.choices:
            out.append(f"choice parameter {self.name!r} declares no choices")
        if self.low is not None and self.high is not None and self.low > self.high:
            out.append(f"parameter {self.name!r} has low > high")
        search_low = self.space[0] if self.space and self.type in ("int", "float") else self.low
        if self.log and (search_low is None or search_low <= 0):
            out.append(f"parameter {self.name!r} is log-scaled but its search low is not > 0")
        if self.space is not None and self.type in ("int", "float"):
            if len(self.space) != 2:
                out.append(f"parameter {self.name!r}: space must be (low, high)")
            else:
                for bound in self.space:
                    try:
                        self.validate(bound)
                    except ValueError:
                        out.append(f"parameter {self.name!r}: space bound {bound!r} is invalid")
        elif self.space is not None and self.type == "choice":
            extra = [c for c in self.space if c not in self.choices]
            if extra:
                out.append(f"parameter {self.name!r}: space has values not in choices: {extra}")
        if self.searchable and self.type == "str":
            out.append(f"parameter {self.name!r}: a str parameter cannot be searchable")
        if (
            self.searchable
            and self.type in ("int", "float")
            and self.space is None
            and (self.low is None or self.high is None)
        ):
            out.append(
                f"parameter {self.name!r} is searchable but has no search range: "
                "give space=(low, high) or both low and high"
            )
        try:
            self.validate(self.default)
        except ValueError as exc:
            out.append(f"default of {self.name!r} is invalid: {exc}")
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "default": self.default}
        for key in ("low", "high"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.choices:
            out["choices"] = list(self.choices)
        if self.also:
            out["also"] = list(self.also)
        if self.nullable:
            out["nullable"] = True
        if self.log:
            out["log"] = True
        out["searchable"] = self.searchable
        if self.space is not None:
            out["space"] = list(self.space)
        out["help"] = self.help
        return out


def _bounds(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" in [{_num(low)}, {_num(high)}]"
    if low is not None:
        return f" >= {_num(low)}"
    if high is not None:
        return f" <= {_num(high)}"
    return ""


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def Int(name: str, default: Any, **kw: Any) -> Param:
    """An integer parameter."""
    return Param(name, "int", default, **kw)


def Float(name: str, default: Any, **kw: Any) -> Param:
    """A real-valued parameter."""
    return Param(name, "float", default, **kw)


def Bool(name: str, default: bool, **kw: Any) -> Param:
    """A true/false parameter."""
    return Param(name, "bool", default, **kw)


def Str(name: str, default: Any, **kw: Any) -> Param:
    """A free-form string parameter (paths, names)."""
    return Param(name, "str", default, **kw)


def Choice(name: str, default: Any, choices: tuple[Any, ...], **kw: Any) -> Param:
    """One value out of a fixed set."""
    return Param(name, "choice", default, choices=tuple(choices), **kw)
