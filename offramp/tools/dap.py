"""`offramp dap`: the Debug Adapter Protocol on standard input and output — the second
front end of the debugger engine (debugger.py), so that VS Code or any DAP client can
debug Lox in every tier.

Each message is a JSON object after a `Content-Length: N` header and a blank line.  The
client sends requests; the adapter answers each with a response (`success`, and
`message` when false) and sends events: `initialized` (the program is compiled and
waits, stopped before its first statement, for its breakpoints and
`configurationDone`), `stopped` (reason breakpoint, step, pause or entry; every thread
stops), `output` (what the program writes: category stdout, and stderr for runtime
errors and trace lines; its standard input is empty), `exited` (the exit status) and
`terminated`.

Two OS threads serve a session:
- the reader (the command's own) reads requests and answers those that need no stopped
  program: initialize, launch, threads, pause, disconnect, and setBreakpoints while the
  program runs;
- the program runs on a thread of its own, the VM's main thread.  At a stop the engine
  calls `stopped` in the stopped guest thread, the world stopped; there the adapter
  answers the requests the reader hands over (stackTrace, scopes, variables,
  setVariable, evaluate, setBreakpoints) until one resumes it (continue, next, stepIn,
  stepOut, configurationDone at the entry, disconnect).
The VM is changed only by its own threads: breakpoints set while the program runs and
`pause` are posted to guest threads, which act at their next poll (in native code too).
The reader alone decides whether the program is stopped or running: it marks it running
as it hands over a request that resumes it, so the request after that never waits for a
stop that is over.

Frame ids and variablesReferences are numbered anew at each stop and mean nothing once
the program resumes (DAP's rule).  A frame's name carries its kind — `add [inlined]`,
`loop [native]`, `script [interp]` — the tier the frame runs in at the stop.  A request
that cannot be obeyed (unknown, malformed, at the wrong time) gets success=false and a
message; the session goes on.
"""
import io
import json
import os
import queue
import threading

from ..config import Config
from ..lox.driver import run_lox
from ..trace import TRACE_EVENTS
from .debugger import Debugger, DebuggerError

TIERS = ("interp", "jit", "eager")
EX_SOFTWARE = 70                  # an internal error, as `offramp run` reports one
PROGRAM_STACK_BYTES = 64 << 20    # the program thread's OS stack (native frames, and the
                                  # Python frames of nested tier transitions)
END_SECONDS = 5.0                 # how long disconnect waits for the program to end
CAPABILITIES = {
    "supportsConfigurationDoneRequest": True,
    "supportsSetVariable": True,
    "supportsEvaluateForHovers": True,
    "supportTerminateDebuggee": True,
    "exceptionBreakpointFilters": [],
}
STEPS = {"continue": "continue", "next": "next", "stepIn": "step", "stepOut": "finish"}
MISSING = object()
JSON_TYPES = {int: "an integer", str: "a string", bool: "a boolean", dict: "an object",
              list: "an array"}


class ProtocolError(Exception):
    """Input that is not a framed JSON message (it has no seq to answer)."""


class Channel:
    """DAP's base protocol over two binary streams: framed JSON messages, numbered in
    the order they are sent, from any thread."""

    def __init__(self, instream, outstream):
        self.instream = instream
        self.outstream = outstream
        self.lock = threading.Lock()
        self.seq = 0

    def read(self):
        """The next message, or None at the end of the input."""
        length = None
        while True:
            line = self.instream.readline()
            if not line:
                return None
            name, colon, value = line.strip().partition(b":")
            if not name and length is not None:
                break
            if colon and name.strip().lower() == b"content-length":
                length = self._length(value)
        body = self.instream.read(length)
        if len(body) < length:
            return None
        try:
            message = json.loads(body)
        except ValueError as error:
            raise ProtocolError(f"a message that is not JSON: {error}") from None
        if not isinstance(message, dict):
            raise ProtocolError("a message that is not a JSON object")
        return message

    @staticmethod
    def _length(text: bytes) -> int:
        try:
            length = int(text)
        except ValueError:
            length = -1
        if length < 0:
            raise ProtocolError(f"a bad Content-Length: {text.strip().decode(errors='replace')}")
        return length

    def send(self, message: dict) -> None:
        """Write one message; a client gone away is the reader's to notice (its input
        ends), so a failed write is dropped."""
        with self.lock:
            self.seq += 1
            body = json.dumps({"seq": self.seq, **message}).encode("utf-8")
            try:
                self.outstream.write(b"Content-Length: %d\r\n\r\n%b" % (len(body), body))
                self.outstream.flush()
            except (OSError, ValueError):
                pass

    def respond(self, request: dict, body=None, error: str | None = None) -> None:
        """The response to `request`: successful, or failed with `error` as its message."""
        message = {"type": "response", "request_seq": request.get("seq", 0),
                   "command": request.get("command", ""), "success": error is None}
        if error is not None:
            message["message"] = error
        if body is not None:
            message["body"] = body
        self.send(message)

    def event(self, name: str, body=None) -> None:
        self.send({"type": "event", "event": name, **({} if body is None else
                                                       {"body": body})})


class OutputEvents(io.TextIOBase):
    """A text stream the program writes to: its complete lines go to the client as
    `output` events of one category (a partial line waits for its end, or a flush)."""

    def __init__(self, channel: Channel, category: str):
        super().__init__()
        self.channel = channel
        self.category = category
        self.pending = ""
        self.lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self.lock:
            self.pending += text
            cut = self.pending.rfind("\n") + 1
            ready, self.pending = self.pending[:cut], self.pending[cut:]
        self._send(ready)
        return len(text)

    def flush(self) -> None:
        with self.lock:
            ready, self.pending = self.pending, ""
        self._send(ready)

    def _send(self, text: str) -> None:
        if text:
            self.channel.event("output", {"category": self.category, "output": text})


class Handles:
    """Numbers for what a client names while the program is stopped (frames, scopes,
    instances), from 1 at each stop; the same thing keeps its number within a stop."""

    def __init__(self):
        self.things = {}
        self.numbers = {}

    def number(self, thing) -> int:
        if thing not in self.numbers:
            self.numbers[thing] = len(self.things) + 1
            self.things[self.numbers[thing]] = thing
        return self.numbers[thing]

    def frame(self, number) -> tuple:
        """(thread number, frame index) of a frame id."""
        return self._get(number, ("frame",), "frame")[1:]

    def variables(self, number) -> tuple:
        """("locals", thread number, frame index) | ("globals",) | ("fields", instance,
        its expression) of a variablesReference."""
        return self._get(number, ("locals", "globals", "fields"), "variablesReference")

    def _get(self, number, kinds: tuple, what: str) -> tuple:
        thing = self.things.get(number)
        if thing is None or thing[0] not in kinds:
            raise DebuggerError(f"no {what} {number} at this stop (references are valid "
                                f"only until the program resumes)")
        return thing


def argument(args: dict, name: str, kind, default=MISSING):
    """A request's argument, checked: DebuggerError (a failed response) when it is
    missing or of another JSON type."""
    value = args.get(name, default)
    if value is MISSING:
        raise DebuggerError(f"missing argument '{name}'")
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if value is not default and (not isinstance(value, kinds) or
                                 isinstance(value, bool) and bool not in kinds):
        raise DebuggerError(f"argument '{name}' must be "
                            f"{' or '.join(JSON_TYPES[k] for k in kinds)}")
    return value


def launch_config(args: dict) -> Config:
    """The Config of launch's arguments: tier, debuggable, trace (a list of categories,
    or them comma-separated)."""
    tier = argument(args, "tier", str, "jit")
    if tier not in TIERS:
        raise DebuggerError(f"tier must be one of {', '.join(TIERS)}, not '{tier}'")
    trace = argument(args, "trace", (list, str), [])
    names = trace.split(",") if isinstance(trace, str) else trace
    names = {str(name).strip() for name in names} - {""}
    unknown = sorted(names - TRACE_EVENTS.keys())
    if unknown:
        raise DebuggerError(f"unknown trace categories {', '.join(unknown)} (choose from "
                            f"{', '.join(TRACE_EVENTS)})")
    return Config(tier=tier, debuggable=argument(args, "debuggable", bool, False),
                  trace=frozenset(names), debug=True)


class Adapter:
    """One DAP session: one program, launched, debugged, ended."""

    def __init__(self, instream, outstream):
        self.channel = Channel(instream, outstream)
        self.stdout = OutputEvents(self.channel, "stdout")
        self.stderr = OutputEvents(self.channel, "stderr")
        self.line_base = 1                 # the client's first line (and column) number
        self.lock = threading.Lock()       # guards `state`
        self.state = "idle"                # idle | stopped | running | ended
        self.at_entry = False              # stopped before the first statement
        self.handed = queue.Queue()        # requests (or "quit", "detach") for the stop
        self.ready = threading.Event()     # the program reached its entry, or ended
        self.debugger = None
        self.program = None                # its thread
        self.path = ""
        self.status = None                 # its exit status once it ended
        self.stop_on_entry = False
        self.entry_pending = False         # the next stop is the entry's (stopOnEntry)
        self.ending = ""                   # "quit" | "detach": every later stop resumes so
        self.handles = Handles()
        self.breakpoint_ids = {}           # line -> DAP ids of the breakpoints there
        self.next_id = 1

    # --- the reader's side ----------------------------------------------------------------

    def serve(self) -> int:
        """Answer requests until disconnect, or the end of the input (which ends the
        program too); returns the command's exit status."""
        while True:
            try:
                message = self.channel.read()
            except ProtocolError as error:
                self.channel.event("output", {"category": "console",
                                              "output": f"offramp dap: ignored {error}\n"})
                continue
            if message is None:
                self._end("quit")
                return 0
            if message.get("type") != "request":
                continue
            if message.get("command") == "disconnect":
                self._disconnect(message)
                return 0
            self._dispatch(message)

    def _dispatch(self, request: dict) -> None:
        """Answer a request here, or hand it to the stopped thread."""
        try:
            args = self._arguments(request)
            command = request.get("command")
            if not isinstance(command, str):
                raise DebuggerError("a request without a command")
            if command == "launch":
                self._launch(request, args)
            elif command in READER:
                self.channel.respond(request, READER[command](self, args))
            elif command not in AT_STOP:
                raise DebuggerError(f"unsupported request '{command}'")
            elif not self._hand_over(request):
                self._while_not_stopped(request, args)
        except DebuggerError as error:
            self.channel.respond(request, error=str(error))
        except Exception as error:  # noqa: BLE001 - a bug answers one request, never ends
            self.channel.respond(request, error=internal(error))   # the session

    @staticmethod
    def _arguments(request: dict) -> dict:
        args = request.get("arguments", {})
        if not isinstance(args, dict):
            raise DebuggerError("arguments must be a JSON object")
        return args

    def _hand_over(self, request: dict) -> bool:
        """Give a request to the stopped thread (the program is running from now on when
        the request resumes it); False when the program is not stopped."""
        with self.lock:
            if self.state != "stopped":
                return False
            if self._resumes(request["command"]):
                self.state = "running"
            self.handed.put(request)
            return True

    def _while_not_stopped(self, request: dict, args: dict) -> None:
        state = self.state
        if state == "running" and request["command"] == "setBreakpoints":
            self.channel.respond(request, self._set_breakpoints_running(args))
        elif state == "running" and request["command"] == "configurationDone":
            self.channel.respond(request)
        else:
            raise DebuggerError({"idle": "no program: launch one first",
                                 "running": "the program is running (pause it first)",
                                 "ended": "the program has ended"}[state])

    def initialize(self, args: dict) -> dict:
        """The client's numbering of lines (from 1 unless it says otherwise)."""
        self.line_base = 1 if argument(args, "linesStartAt1", bool, True) else 0
        return CAPABILITIES

    def _launch(self, request: dict, args: dict) -> None:
        """Compile the program and start it, stopped before its first statement: the
        response, then the `initialized` event (or, when it does not compile, a failed
        response after its errors as output, then exited and terminated)."""
        self.launch(args)
        if self.debugger is not None:
            self.channel.respond(request)
            self.channel.event("initialized")
            return
        self.channel.respond(request, error=f"the program did not compile (exit status "
                                            f"{self.status}): see its output")
        self._ended(self.status)

    def launch(self, args: dict) -> None:
        """Start the program; return once it waits at its entry, or has ended."""
        if self.program is not None:
            raise DebuggerError("a program was launched already")
        path = argument(args, "program", str)
        config = launch_config(args)
        try:
            with open(path, "rb") as file:
                source = file.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise DebuggerError(f'could not read file "{path}": '
                                f'{getattr(error, "strerror", None) or error}') from None
        self.path = os.path.abspath(path)
        self.stop_on_entry = argument(args, "stopOnEntry", bool, False)
        self._start(source, config)
        self.ready.wait()

    def threads(self, args: dict) -> dict:
        """The live threads, numbered as the command-line debugger numbers them (read
        here even while the program runs: the list only grows)."""
        debugger = self.debugger
        listed = debugger.threads() if debugger is not None and self.state != "ended" else []
        return {"threads": [{"id": number, "name": name}
                            for number, name, state, _ in listed if state != "done"]}

    def pause(self, args: dict) -> None:
        """Stop the program (at the thread's next poll, in any tier): a `stopped` event
        with reason pause follows.  Nothing to do when it is stopped already."""
        number = argument(args, "threadId", int)
        if self.state == "stopped":
            return
        if self.state != "running":
            raise DebuggerError("the program is not running")
        self.debugger.pause(self._thread(number))

    def set_exception_breakpoints(self, args: dict) -> dict:
        """Lox has no exceptions: nothing to stop at (clients send it anyway)."""
        return {"breakpoints": []}

    def _thread(self, number: int):
        for thread in list(self.debugger.vm.threads.all):
            if thread.index + 1 == number and not thread.done:
                return thread
        raise DebuggerError(f"no thread {number}")

    def _disconnect(self, request: dict) -> None:
        """End the session: the program ends (terminateDebuggee, the default) or runs on
        to its end without the debugger."""
        try:
            terminate = argument(self._arguments(request), "terminateDebuggee", bool, True)
        except DebuggerError:
            terminate = True
        self._end("quit" if terminate else "detach")
        self.channel.respond(request)

    def _end(self, how: str) -> None:
        """Make every stop from now on end the program (quit) or leave it running
        (detach); wait for it to end (a detached one as long as it runs)."""
        with self.lock:
            self.ending = how
            state = self.state
            if state == "stopped":
                self.state = "running"
                self.handed.put(how)
        if state == "running" and how == "quit":
            for thread in list(self.debugger.vm.threads.all):
                if not thread.done:
                    self.debugger.pause(thread)
        if self.program is not None:
            self.program.join(END_SECONDS if how == "quit" else None)

    # --- the program's thread --------------------------------------------------------------

    def _start(self, source: str, config: Config) -> None:
        previous = threading.stack_size(PROGRAM_STACK_BYTES)
        try:
            self.program = threading.Thread(target=self._run, args=(source, config),
                                            name="offramp-dap-program", daemon=True)
            self.program.start()
        finally:
            threading.stack_size(previous)

    def _run(self, source: str, config: Config) -> None:
        """The program, from its entry to its exit status (an internal error of offramp
        ends it as `offramp run` reports one)."""
        status = EX_SOFTWARE
        try:
            status = run_lox(source, self.path, config, self.stdout, self.stderr,
                             stdin=io.BytesIO(), before=lambda runtime: Debugger(
                                 runtime, self.path, source, self).start())
        except Exception as error:  # noqa: BLE001 - the client hears of it, as output
            self.stderr.write(f"offramp: {internal(error)}\n")
        self.stdout.flush()
        self.stderr.flush()
        with self.lock:
            self.state = "ended"
            self.status = status
        if self.debugger is None:
            self.ready.set()
        else:
            self._ended(status)

    def _ended(self, status: int) -> None:
        """The last events of a session's program."""
        self.channel.event("exited", {"exitCode": status})
        self.channel.event("terminated")

    def stopped(self, debugger: Debugger, stop) -> str:
        """The engine's call at each stop, in the stopped guest thread: report the stop,
        then answer the requests handed over until one resumes the program."""
        self.handles = Handles()
        self.stdout.flush()
        self.stderr.flush()
        entry = stop.reason == "entry"
        with self.lock:
            if self.ending:              # the session ends: no stop holds the program
                return self.ending
            self.state = "stopped"
            self.at_entry = entry
        if entry:
            self.debugger = debugger
            self.ready.set()
        else:
            self.channel.event("stopped", self._stopped_body(debugger, stop))
        while True:
            action = self._answer(debugger, self.handed.get())
            if action is not None:
                return action

    def _stopped_body(self, debugger: Debugger, stop) -> dict:
        reason = "entry" if self.entry_pending else stop.reason
        self.entry_pending = False
        body = {"reason": reason, "threadId": stop.thread.index + 1,
                "allThreadsStopped": True}
        frames = debugger.frames(stop.thread)
        if frames:
            body["description"] = f"{reason} in {frames[0].function} ({frames[0].kind})"
        lines = {debugger.breakpoints[n].line for n in stop.breakpoints
                 if n in debugger.breakpoints}
        ids = sorted(i for line in lines for i in self.breakpoint_ids.get(line, ()))
        if ids:
            body["hitBreakpointIds"] = ids
        return body

    def _answer(self, debugger: Debugger, request):
        """Answer one handed-over request; the resume action when it resumes."""
        if isinstance(request, str):           # the session ends: "quit" | "detach"
            return request
        command = request["command"]
        try:
            body = AT_STOP[command](self, debugger, self._arguments(request))
        except DebuggerError as error:
            self.channel.respond(request, error=str(error))
            return self._resumes_anyway(command)
        except Exception as error:  # noqa: BLE001 - a bug answers one request, never
            self.channel.respond(request, error=internal(error))   # ends the program
            return self._resumes_anyway(command)
        self.channel.respond(request, body)
        return self._action(debugger, command)

    def _resumes(self, command: str) -> bool:
        """Whether the request resumes the stopped program."""
        return command in STEPS or command == "configurationDone" and self.at_entry

    def _resumes_anyway(self, command: str):
        """A resuming request that failed resumes all the same: the reader counts the
        program running once it handed it over."""
        return "continue" if self._resumes(command) else None

    def _action(self, debugger: Debugger, command: str):
        if command == "configurationDone":
            if not self.at_entry:
                return None
            self.entry_pending = self.stop_on_entry
            return "step" if self.stop_on_entry else "continue"
        action = STEPS.get(command)
        if action is not None:       # a step counts from the stopped thread's frame 0
            debugger.select_thread(debugger.stop.thread.index + 1)
        return action

    # --- requests answered at a stop --------------------------------------------------------

    def set_breakpoints(self, debugger: Debugger, args: dict) -> dict:
        """Replace the breakpoints of the program's source (DAP sends them all, per
        source, each time); those of another source are refused."""
        lines, mine = self._breakpoint_request(args)
        if mine:
            self._apply_breakpoints(debugger, lines)
        return self._breakpoint_answer(debugger, lines, mine)

    def _set_breakpoints_running(self, args: dict) -> dict:
        """setBreakpoints while the program runs: answered at once, applied by a guest
        thread at its next poll."""
        lines, mine = self._breakpoint_request(args)
        debugger = self.debugger
        if mine:
            debugger.at_next_poll(lambda: self._apply_breakpoints(debugger, lines))
        return self._breakpoint_answer(debugger, lines, mine)

    @staticmethod
    def _apply_breakpoints(debugger: Debugger, lines: list) -> None:
        """The engine's breakpoints become those at `lines` (those with code)."""
        for number in list(debugger.breakpoints):
            debugger.delete(number)
        for line in dict.fromkeys(lines):
            if debugger.has_code(line):
                debugger.break_line(line)

    def _breakpoint_request(self, args: dict) -> tuple:
        """The lines asked for (engine numbering) and whether the source is the
        program's."""
        source = argument(args, "source", dict)
        path = argument(source, "path", str, "")
        wanted = argument(args, "breakpoints", list, None)
        if wanted is None:
            lines = argument(args, "lines", list, [])
        else:
            lines = [argument(b if isinstance(b, dict) else {}, "line", int) for b in wanted]
        if not all(isinstance(line, int) for line in lines):
            raise DebuggerError("breakpoint lines must be integers")
        mine = os.path.realpath(path) == os.path.realpath(self.path)
        return [line + 1 - self.line_base for line in lines], mine

    def _breakpoint_answer(self, debugger: Debugger, lines: list, mine: bool) -> dict:
        """A DAP breakpoint for each line asked for, numbered (a stop names the ids at
        its line)."""
        if mine:
            self.breakpoint_ids = {}
        answers = []
        for line in lines:
            answer = {"id": self.next_id, "line": line - 1 + self.line_base,
                      "verified": mine and debugger.has_code(line)}
            if answer["verified"]:
                self.breakpoint_ids.setdefault(line, []).append(self.next_id)
                answer["source"] = self._source()
            else:
                answer["message"] = f"no code at line {line}" if mine else \
                    "not the launched program"
            self.next_id += 1
            answers.append(answer)
        return {"breakpoints": answers}

    def configuration_done(self, debugger: Debugger, args: dict) -> None:
        """The client has set its breakpoints: the program starts (see `_action`)."""

    def stack_trace(self, debugger: Debugger, args: dict) -> dict:
        """A thread's frames, innermost first, each named with its kind."""
        number = argument(args, "threadId", int)
        debugger.select_thread(number)
        frames = debugger.frames()
        start = argument(args, "startFrame", int, 0)
        levels = argument(args, "levels", int, 0) or len(frames)
        return {"stackFrames": [self._frame(number, frame)
                                for frame in frames[start:start + levels]],
                "totalFrames": len(frames)}

    def _frame(self, number: int, frame) -> dict:
        return {"id": self.handles.number(("frame", number, frame.index)),
                "name": f"{frame.function} [{frame.kind}]", "source": self._source(),
                "line": frame.line - 1 + self.line_base, "column": self.line_base}

    def _source(self) -> dict:
        return {"name": os.path.basename(self.path), "path": self.path}

    def scopes(self, debugger: Debugger, args: dict) -> dict:
        """A frame's Locals, and the Globals."""
        number, index = self.handles.frame(argument(args, "frameId", int))
        return {"scopes": [
            {"name": "Locals", "presentationHint": "locals", "expensive": False,
             "variablesReference": self.handles.number(("locals", number, index))},
            {"name": "Globals", "expensive": False,
             "variablesReference": self.handles.number(("globals",))}]}

    @staticmethod
    def _select_frame(debugger: Debugger, number: int, index: int) -> None:
        """Make a frame the debugger's selected one (what evaluate and assign read)."""
        debugger.select_thread(number)
        debugger.select_frame(index)

    def variables(self, debugger: Debugger, args: dict) -> dict:
        """The variables of a scope, or the fields of an instance (expandable in turn)."""
        thing = self.handles.variables(argument(args, "variablesReference", int))
        if thing[0] == "locals":
            self._select_frame(debugger, *thing[1:])
            words, prefix = debugger.local_words(), ""
        elif thing[0] == "globals":
            words, prefix = debugger.global_words(), ""
        else:
            words, prefix = debugger.fields(thing[1]), thing[2] + "."
        return {"variables": [self._variable(debugger, prefix + name, name, word)
                              for name, word in words.items()]}

    def _variable(self, debugger: Debugger, path: str, name: str, word) -> dict:
        return {"name": name, "value": debugger.text(word), "evaluateName": path,
                "variablesReference": self._expansion(debugger, path, word)}

    def _expansion(self, debugger: Debugger, path: str, word) -> int:
        """The reference of an instance's fields (0: nothing to expand)."""
        return self.handles.number(("fields", word, path)) if debugger.fields(word) else 0

    def set_variable(self, debugger: Debugger, args: dict) -> dict:
        """A local (in a compiled frame: deferred until it leaves native code), a global
        or a field, to a Lox literal."""
        thing = self.handles.variables(argument(args, "variablesReference", int))
        name = argument(args, "name", str)
        literal = argument(args, "value", str)
        if thing[0] == "locals":
            self._select_frame(debugger, *thing[1:])
            if name not in debugger.local_words():
                raise DebuggerError(f"no local variable '{name}' in this frame")
            value = debugger.assign(name, literal)
        elif thing[0] == "globals":
            value = debugger.assign_global(name, literal)
        else:
            value = debugger.assign_field(thing[1], name, literal)
        return {"value": value, "variablesReference": 0}

    def evaluate(self, debugger: Debugger, args: dict) -> dict:
        """NAME or NAME.field...: a local of the frame (frameId, else the stopped
        thread's innermost), else a global."""
        expression = argument(args, "expression", str).strip()
        frame_id = argument(args, "frameId", int, None)
        if frame_id is not None:
            self._select_frame(debugger, *self.handles.frame(frame_id))
        word = debugger.value_of(expression)
        return {"result": debugger.text(word),
                "variablesReference": self._expansion(debugger, expression, word)}

    def resume(self, debugger: Debugger, args: dict) -> dict:
        """continue: the response, then every thread runs on."""
        return {"allThreadsContinued": True}

    def step(self, debugger: Debugger, args: dict) -> None:
        """next, stepIn, stepOut: the stopped thread steps (in the interpreter) until
        a `stopped` event with reason step."""


READER = {"initialize": Adapter.initialize, "threads": Adapter.threads, "pause": Adapter.pause,
          "setExceptionBreakpoints": Adapter.set_exception_breakpoints}
AT_STOP = {"setBreakpoints": Adapter.set_breakpoints,
           "configurationDone": Adapter.configuration_done,
           "stackTrace": Adapter.stack_trace, "scopes": Adapter.scopes,
           "variables": Adapter.variables, "setVariable": Adapter.set_variable,
           "evaluate": Adapter.evaluate,
           "continue": Adapter.resume, "next": Adapter.step, "stepIn": Adapter.step,
           "stepOut": Adapter.step}


def internal(error: BaseException) -> str:
    """A bug of offramp, in one line, as `offramp run` reports one."""
    return f"internal error: {type(error).__name__}: {' '.join(str(error).split())}"


def serve_dap(instream, outstream) -> int:
    """`offramp dap`: one session over binary streams; returns the exit status."""
    return Adapter(instream, outstream).serve()
