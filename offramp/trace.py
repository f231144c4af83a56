"""The table of trace events, the sink that prints them, and the `--stats` report.

`--trace=gc,tier` turns on whole categories.  Each event is one line on stderr: by default
(`--trace-format=text`) `[category] message`; with `--trace-format=json` one JSON object

    {"time": 0.0123, "thread": 0, "thread_name": "main", "category": "ic",
     "message": "<the text line's message>", "fields": {"site": 3, ...}}

where `time` is seconds since the tracer (the VM) started, `thread` the emitting VM
thread's index and `fields` what the emitter passed as keyword arguments to `emit` (each
category's fields are listed in its row below).  Adding an event means adding a row here.
"""
import json
import sys
import time
from dataclasses import dataclass

FORMATS = ("text", "json")
"""The formats of `--trace-format` and `--stats-format`."""


@dataclass(frozen=True, slots=True)
class TraceCategory:
    """A category that `--trace=` can name, with what its events report."""

    name: str
    doc: str


TRACE_EVENTS = {c.name: c for c in (
    TraceCategory("gc", "a collection: reason, bytes before and after, objects freed "
                        "(fields: event, collection, reason, bytes_before, bytes_after, "
                        "freed (objects), pages_released, committed)"),
    TraceCategory("tier", "a function version compiled or entered in another tier "
                          "(fields: event, function, version, and what the event has)"),
    TraceCategory("deopt", "a native frame left for the interpreter, with the reason "
                           "(fields: tier, kind, reason, function, version, and frames "
                           "(each function, version, block, index) or resume)"),
    TraceCategory("osr", "an interpreted loop entered in native code mid-iteration, or "
                         "re-entered after a deopt; entry clones made (fields: event, "
                         "function, version, loop or iteration)"),
    TraceCategory("safepoint", "a handshake or a stop-the-world: operation, target, how it "
                               "ran, time to safepoint (fields: kind, target, how, "
                               "microseconds)"),
    TraceCategory("ic", "an inline cache's patch region rewritten: site, function, old -> "
                        "new state, shapes (fields: site, kind, field, function, version, "
                        "line, address, old, new, shapes)"),
    TraceCategory("trap", "a TRAP or WATCHPOINT reached the client's handler (fields: "
                          "op, name, function, version, block, index)"),
)}


class Tracer:
    """Prints events of the enabled categories; one shared instance per VM.

    The VM sets `current_thread` (a function giving the emitting VM thread, with `index`
    and `name`) once its threads exist; events before that have no thread.
    """

    def __init__(self, enabled=(), stream=None, format: str = "text"):
        unknown = set(enabled) - TRACE_EVENTS.keys()
        if unknown:
            raise ValueError(f"unknown trace categories: {', '.join(sorted(unknown))}")
        if format not in FORMATS:
            raise ValueError(f"unknown trace format {format!r}; formats: {', '.join(FORMATS)}")
        self.enabled = frozenset(enabled)
        self.stream = stream if stream is not None else sys.stderr
        self.format = format
        self.start = time.perf_counter()
        self.current_thread = None

    def on(self, category: str) -> bool:
        """Whether events of `category` are printed (callers skip building messages if not)."""
        return category in self.enabled

    def emit(self, category: str, message: str, **fields) -> None:
        """Print one event line if its category is enabled: `message` as text, or the
        event as a JSON object carrying `fields` too (one write, so that lines of
        threads tracing at once never interleave)."""
        if category not in self.enabled:
            return
        if self.format == "json":
            line = json.dumps(self._record(category, message, fields), default=str)
        else:
            line = f"[{category}] {message}"
        self.stream.write(line + "\n")

    def _record(self, category: str, message: str, fields: dict) -> dict:
        """The JSON object of one event."""
        thread = self.current_thread() if self.current_thread is not None else None
        return {"time": round(time.perf_counter() - self.start, 6),
                "thread": getattr(thread, "index", None),
                "thread_name": getattr(thread, "name", None),
                "category": category, "message": message, "fields": fields}


def print_stats(stats: dict, stream, format: str = "text") -> None:
    """`--stats`: one `name: value` line per counter, or (`--stats-format=json`) the whole
    dictionary as one JSON object on one line."""
    if format == "json":
        stream.write(json.dumps(stats, default=str) + "\n")
        return
    for key, value in stats.items():
        print(f"{key}: {value}", file=stream)
