"""`offramp debug FILE.lox`: a command-line debugger with gdb habits, in any tier.

Commands come one per line from a stream (standard input), so a session can be scripted;
the debugger's replies go to standard error and the program's own output stays on
standard output.  The program starts stopped, before its first statement: set
breakpoints, then `continue` (or `step`).  At the end of the commands the debugger
detaches and the program runs to its end.

    break LINE | break FUNC     delete N        continue (c)    step (s)   next (n)
    finish                      backtrace (bt)  frame N         locals
    print NAME[.field...] (p)   set NAME = VALUE (a Lox literal)
    threads                     thread N        quit (q)

A stop prints `stopped at FILE:LINE in FUNC (TIER)` — TIER is the kind of the innermost
frame: interp, native (a compiled function's own frame) or inlined — then the line.
"""
from dataclasses import dataclass, replace

from ..lox.driver import run_lox
from .debugger import Debugger, DebuggerError

RESUMING = {"continue": "continue", "c": "continue", "step": "step", "s": "step",
            "next": "next", "n": "next", "finish": "finish", "quit": "quit", "q": "quit"}


@dataclass
class CommandLine:
    """The front end: reads commands at each stop until one resumes the program."""

    commands: object           # a text stream of commands
    out: object                # where replies go
    prompt: bool = False

    def stopped(self, debugger: Debugger, stop) -> str:
        if stop.reason != "entry":
            self.report(debugger)
        while True:
            if self.prompt:
                self.say("(offramp) ", end="")
            line = self.commands.readline()
            if not line:
                return "detach"
            words = line.split()
            if not words:
                continue
            if words[0] in RESUMING:
                return RESUMING[words[0]]
            try:
                self.run(debugger, words[0], line.strip()[len(words[0]):].strip())
            except DebuggerError as error:
                self.say(f"error: {error}")

    def report(self, debugger: Debugger) -> None:
        frames = debugger.frames()
        if not frames:
            return
        top = frames[0]
        self.say(f"stopped at {debugger.path}:{top.line} in {top.function} ({top.kind})")
        self.say(f"{top.line}\t{debugger.source_line(top.line).strip()}")

    def say(self, text: str, end: str = "\n") -> None:
        self.out.write(text + end)
        self.out.flush()

    def run(self, debugger: Debugger, command: str, rest: str) -> None:
        handler = COMMANDS.get(command)
        if handler is None:
            raise DebuggerError(f"unknown command '{command}'")
        handler(self, debugger, rest)

    # --- commands --------------------------------------------------------------------

    def do_break(self, debugger, rest):
        bp = debugger.break_line(int(rest)) if rest.isdigit() else \
            debugger.break_function(rest) if rest else None
        if bp is None:
            raise DebuggerError("break LINE or break FUNC")
        self.say(f"breakpoint {bp.number} at {debugger.path}:{bp.line}")

    def do_delete(self, debugger, rest):
        if not rest.isdigit():
            raise DebuggerError("delete N")
        debugger.delete(int(rest))

    def do_backtrace(self, debugger, rest):
        for frame in debugger.frames():
            mark = "*" if frame.index == debugger.frame_index else " "
            self.say(f"{mark}#{frame.index} {frame.function} at {debugger.path}:{frame.line} "
                     f"({frame.kind})")

    def do_frame(self, debugger, rest):
        if not rest.isdigit():
            raise DebuggerError("frame N")
        frame = debugger.select_frame(int(rest))
        self.say(f"#{frame.index} {frame.function} at {debugger.path}:{frame.line} "
                 f"({frame.kind})")

    def do_locals(self, debugger, rest):
        for name, text in debugger.locals().items():
            self.say(f"{name} = {text}")

    def do_print(self, debugger, rest):
        if not rest:
            raise DebuggerError("print NAME")
        self.say(f"{rest} = {debugger.evaluate(rest)}")

    def do_set(self, debugger, rest):
        name, eq, value = rest.partition("=")
        if not eq or not name.strip():
            raise DebuggerError("set NAME = VALUE")
        self.say(f"{name.strip()} = {debugger.assign(name.strip(), value)}")

    def do_threads(self, debugger, rest):
        for number, name, state, current in debugger.threads():
            self.say(f"{'*' if current else ' '} {number} {name} ({state})")

    def do_thread(self, debugger, rest):
        if not rest.isdigit():
            raise DebuggerError("thread N")
        debugger.select_thread(int(rest))
        self.do_backtrace(debugger, "")


COMMANDS = {
    "break": CommandLine.do_break, "b": CommandLine.do_break,
    "delete": CommandLine.do_delete, "d": CommandLine.do_delete,
    "backtrace": CommandLine.do_backtrace, "bt": CommandLine.do_backtrace,
    "where": CommandLine.do_backtrace,
    "frame": CommandLine.do_frame, "f": CommandLine.do_frame,
    "locals": CommandLine.do_locals,
    "print": CommandLine.do_print, "p": CommandLine.do_print,
    "set": CommandLine.do_set,
    "threads": CommandLine.do_threads, "thread": CommandLine.do_thread,
}


def debug_lox(source: str, path: str, config, commands, stdout, stderr, prompt=False) -> int:
    """Run a Lox program under the debugger; returns its exit status."""
    frontend = CommandLine(commands, stderr, prompt)

    def attach(runtime):
        Debugger(runtime, path, source, frontend).start()
    return run_lox(source, path, replace(config, debug=True), stdout, stderr, before=attach)
