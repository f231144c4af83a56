"""The table of trace events and the sink that prints them.

`--trace=gc,tier` turns on whole categories; every event is one line on stderr in the
form `[category] message`.  Adding an event means adding a row here.
"""
import sys
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TraceCategory:
    """A category that `--trace=` can name, with what its events report."""

    name: str
    doc: str


TRACE_EVENTS = {c.name: c for c in (
    TraceCategory("gc", "a collection: reason, bytes before and after, objects freed"),
    TraceCategory("tier", "a function version compiled or entered in another tier"),
    TraceCategory("deopt", "a native frame left for the interpreter, with the reason"),
    TraceCategory("osr", "an interpreted loop entered in native code mid-iteration, or "
                         "re-entered after a deopt; entry clones made"),
    TraceCategory("safepoint", "a handshake or a stop-the-world: operation, target, how it "
                               "ran, time to safepoint"),
    TraceCategory("ic", "an inline cache's patch region rewritten: site, function, old -> "
                        "new state, shapes"),
    TraceCategory("trap", "a TRAP or WATCHPOINT reached the client's handler"),
)}


class Tracer:
    """Prints events of the enabled categories; one shared instance per VM."""

    def __init__(self, enabled=(), stream=None):
        unknown = set(enabled) - TRACE_EVENTS.keys()
        if unknown:
            raise ValueError(f"unknown trace categories: {', '.join(sorted(unknown))}")
        self.enabled = frozenset(enabled)
        self.stream = stream if stream is not None else sys.stderr

    def on(self, category: str) -> bool:
        """Whether events of `category` are printed (callers skip building messages if not)."""
        return category in self.enabled

    def emit(self, category: str, message: str) -> None:
        """Print one event line if its category is enabled."""
        if category in self.enabled:
            print(f"[{category}] {message}", file=self.stream)
