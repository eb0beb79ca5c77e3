"""One log format for every logger of a service, Faust's and aiokafka's included.

JSON lines on stderr: ``time``, ``level``, ``logger``, ``message`` and the
record's fields, given as ``extra``, under the same names everywhere
(``orderId``, ``eventId``, ``version``, ``partition``, ``offset``,
``status``, ``route``, ``outcome`` …), so a log pipeline can select on them.
Faust applies it to its worker through the app's ``logging_config``.
"""

from typing import Any


def logging_config(level: str) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` document."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "{asctime}{levelname}{name}{message}",
                "style": "{",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
    }
