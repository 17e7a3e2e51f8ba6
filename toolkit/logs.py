"""The musiclust logger's output: one line per message on stderr, ``-v`` levels.

Its own module so that the search's worker processes set it up without importing the CLI."""

from __future__ import annotations

import logging
import sys

log = logging.getLogger("musiclust")


#: The -v count of this command (a list: set once by the group, read by its error handler).
VERBOSE = [0]


def configure_logging(verbose: int) -> None:
    VERBOSE[0] = verbose
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    log.handlers[:] = [handler]
    log.setLevel(min(level, logging.INFO))
    handler.setLevel(level if verbose else logging.WARNING)
    log.propagate = False
    for noisy in ("alembic", "mlflow.store.db.utils"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"
