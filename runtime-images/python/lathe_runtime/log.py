"""Structured logs as Lathe's TypeScript programs write them (pino-like JSON lines on stdout):
level, time, component, msg, then the fields, so one log pipeline reads every runtime pod."""

import datetime
import json


def logger(component):
    """A ``log(level, msg, **fields)`` function for ``component`` (e.g. lathe-trainer-sklearn)."""

    def log(level, msg, **fields):
        record = {"level": level, "time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                  "component": component, "msg": msg, **fields}
        print(json.dumps(record, default=str), flush=True)

    return log


def utc_now():
    """The current time as the TypeScript programs write it (ISO 8601, ``Z``)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
