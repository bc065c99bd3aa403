"""uvicorn's logging with API keys kept out of the access log.

LibreTranslate clients may send the key in the query string (``?api_key=...``), and uvicorn's
access log prints every request's path with its query: ``RedactKeys`` replaces the value by
``***`` before the line is formatted. ``log_config()`` is uvicorn's own configuration with the
filter on the access handler; it is a plain dict, so ``--workers N`` processes use it too.
"""

from __future__ import annotations

import copy
import logging
import re

_KEY = re.compile(r"((?:^|[?&])api_key=)[^&#\s]*", re.I)


def redact(path: str) -> str:
    return _KEY.sub(r"\1***", path)


class RedactKeys(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def log_config() -> dict:
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_keys"] = {"()": "bertune_cli.serve.logs.RedactKeys"}
    config["handlers"]["access"]["filters"] = ["redact_keys"]
    return config
