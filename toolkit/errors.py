"""Errors a user can act on. The CLI prints them as one line (plus a hint), never a traceback."""

from __future__ import annotations

import contextlib
import difflib
import signal
import sys
from collections.abc import Iterable, Iterator
from typing import Any


class MusiclustError(Exception):
    """Base class: a problem the user can fix, with an optional hint."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"

    def __reduce__(self) -> tuple:  # raised in a worker process, re-raised whole in the parent
        return (type(self), (self.message, self.hint))


class SpecError(MusiclustError):
    """The run specification is wrong: a bad plugin name, parameter or value. Found before work."""


class DataError(MusiclustError):
    """The data cannot be used: a missing path, nothing usable left after skipping."""


class PluginError(MusiclustError):
    """A plugin broke the contract (bad declaration, wrong return shape)."""


class NotComputed(Exception):
    """Raised by a metric or report that does not apply to this run (too few clips, no labels).
    The run records the reason under ``not_computed`` and goes on."""


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM: ``kill``, Slurm, Kubernetes). A subclass of
    :class:`KeyboardInterrupt`, so it takes Ctrl-C's way out: the run ends KILLED, a search's
    finished trials are kept and it can be resumed."""


_STOP = {"requested": False, "now": True}


#: Code a stop must not cut half-way: a store's transaction cut by an exception kept its
#: sqlite write lock, and the run could then not be ended ("database is locked"; once in 30
#: random SIGTERMs sent to a search).
_LIBRARIES = ("sqlalchemy", "mlflow", "optuna.storages", "alembic")
#: Seconds between looks at whether the main thread has left such code.
RETRY = 0.05


def stop_on_sigterm() -> None:
    """Turn SIGTERM into :class:`Terminated` in this process (the main thread only).

    Raised at once where that is safe (a run's own code). Inside a store's code (MLflow,
    SQLAlchemy, Optuna's storages) it is raised as soon as the thread has left it (looked at
    every RETRY seconds); inside :func:`deferred_stop` (Optuna storing a trial) the request is
    only kept, and :func:`check_stop` raises it at the next step boundary. It is kept in any
    case: Python drops an exception a handler raises while a garbage-collection callback runs
    ("Exception ignored in ..."; SQLAlchemy has such callbacks)."""

    def handler(signum: int, frame: Any) -> None:
        _STOP["requested"] = True
        _raise_if_safe(frame)

    def again(signum: int, frame: Any) -> None:
        if _STOP["requested"]:
            _raise_if_safe(frame)

    signal.signal(signal.SIGTERM, handler)
    if hasattr(signal, "setitimer"):
        signal.signal(signal.SIGALRM, again)


def _raise_if_safe(frame: Any) -> None:
    if not _STOP["now"]:
        return  # a deferred_stop block: its end, or the next check_stop, raises it
    if hasattr(signal, "setitimer") and _inside_store(frame):
        signal.setitimer(signal.ITIMER_REAL, RETRY)  # look again in a moment
        return
    raise Terminated("stopped by SIGTERM")


def _inside_store(frame: Any) -> bool:
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith(_LIBRARIES):
            return True
        frame = frame.f_back
    return False


def check_stop() -> None:
    """Raise :class:`Terminated` if SIGTERM came and has not been raised (or was swallowed)."""
    if _STOP["requested"]:
        raise Terminated("stopped by SIGTERM")


@contextlib.contextmanager
def deferred_stop(now: bool = False, after: bool = True) -> Iterator[None]:
    """Within: SIGTERM is only noted (``now=False``: a library's bookkeeping that must not be
    cut half-way), or raised at once (``now=True``: our own code inside such a block). With
    ``after``, a stop noted within is raised on the way out where stops are raised at once;
    without, the caller raises it (:func:`check_stop`) where it can handle it."""
    before = _STOP["now"]
    _STOP["now"] = now
    try:
        if now:
            check_stop()
        yield
    finally:
        _STOP["now"] = before
    if after and before and sys.exc_info()[0] is None:  # a stop that came meanwhile
        check_stop()


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean X?' hint for a near miss, or None."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
