"""Options and value parsing shared by the ``musiclust`` commands. MLproject passes '' for an
option the user did not set, so every parser here treats '' as not given."""

from __future__ import annotations

from typing import Any

import click

from musiclust.errors import SpecError


def given(value: str | None) -> str | None:
    """MLproject passes '' for options the user did not set."""
    return value if value not in (None, "") else None


def data_options(command: Any) -> Any:
    """--data and --source, the same on every command that reads data."""
    command = click.option(
        "--source", metavar="NAME", help="Data-source plugin (default: from --data)."
    )(command)
    return click.option(
        "--data",
        metavar="PATH",
        help="A folder (one subfolder per label) or a CSV file. Default: the built-in demo data.",
    )(command)


def parse_seed(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise SpecError(f"--seed: expected an integer, got {text!r}") from None


def names(text: str | None) -> list[str] | None:
    text = given(text)
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def flag(text: str | None, flag: str) -> bool:
    value = (given(text) or "false").strip().lower()
    if value in ("true", "yes", "1", "on"):
        return True
    if value in ("false", "no", "0", "off"):
        return False
    raise SpecError(f"{flag}: expected true or false, got {text!r}")


def positive(text: str | None, flag: str, default: int, least: int = 1) -> int:
    text = given(text)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise SpecError(f"{flag}: expected a whole number, got {text!r}") from None
    if value < least:
        raise SpecError(f"{flag}: expected at least {least}, got {value}")
    return value


def config_option(help: str) -> Any:
    """--config: a spec file, or the name of one shipped in musiclust/specs."""
    return click.option("--config", metavar="SPEC.YAML", help=help)
