"""structlog configuration: the only module that touches logging globals.

JSON lines when stderr is not a TTY, a readable console otherwise.
`operation_id` and `device_id` are bound through contextvars.
"""

from __future__ import annotations

import logging
import sys
import warnings
from typing import TextIO

import structlog


class _CurrentStderr:
    """Whatever sys.stderr is at each write: while a rich live display holds the terminal
    (gridjobs.progress), that is rich's proxy, which prints the line above the display."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure(*, json: bool | None = None, level: str = "info", stream: TextIO | None = None) -> None:
    stream = stream or _CurrentStderr()  # type: ignore[assignment]
    use_json = (not stream.isatty()) if json is None else json
    renderer = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks if use_json else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    logging.getLogger("ray._private.worker").addFilter(_not_ray_sigterm_note)
    logging.getLogger("ray._private.authentication.authentication_token_setup").addFilter(_not_ray_token_note)
    # platformdirs (under Ray) warns when a service has no XDG_RUNTIME_DIR; its /tmp fallback is fine
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def _not_ray_token_note(record: logging.LogRecord) -> bool:
    """A local Ray notes that it turned token authentication on by itself: intended, and
    no business of the person at the terminal."""
    return not record.getMessage().startswith("Token authentication is enabled for this Ray cluster")


def _not_ray_sigterm_note(record: logging.LogRecord) -> bool:
    """ray.init on a worker thread (gridjobs.runtime) notes that it set no SIGTERM
    handler; that is intended, as gridjobs.shutdown handles SIGTERM."""
    return not record.getMessage().startswith("SIGTERM handler is not set")
