"""A source debugger for Lox programs in every tier: the engine both front ends share
(the command line, `debug_cli.py`, and the Debug Adapter Protocol).

The program is compiled with a breakpoint site at every statement and loop test
(`Config.debug`, runtime/breakpoints.py).  Compiled code leaves out the sites of lines
no breakpoint is armed at, under an assumption: arming one invalidates the code that
left it out, and the code compiled next stops there — a stop in a hot loop is a stop in
native code, its frame still native.  At a stop every other thread is stopped too (a
stop-the-world of kind "debug"), and the front end inspects frames through the frame API
(`VM.inspect`'s ThreadView: interpreted, native and inlined frames, variables from the
side table).  A variable changed in a compiled frame is deferred: the frame leaves
lazily, resuming in the interpreter with the value, and its loop is re-entered in native
code by OSR.  Stepping (`step`, `next`, `finish`) runs the stepping thread in the
interpreter (its native frames leave lazily, no native code is entered) until the step
ends; `continue` lets it run native code again.  A front end that runs on an OS thread
of its own while the program runs (the DAP adapter's reader) changes nothing itself:
`pause` and `at_next_poll` post the work to guest threads, which do it at their next
poll (a native loop is made to poll), holding the VM lock.
"""
from dataclasses import dataclass, field

from ..heap import ObjKind
from ..ir import tagref
from ..lox.driver import LIBRARY_PREFIXES, breakpoint_sites
from ..lox.runtime import GuestExit
from ..runtime.frames import ThreadView
from ..runtime.traps import ClientAPIError


class DebuggerError(Exception):
    """A command that cannot be obeyed (an unknown name, no such line or frame)."""


class Quit(GuestExit):
    """The user ended the program from the debugger (exit status 0, as after `exit`)."""

    def __init__(self):
        super().__init__(0)


@dataclass
class Breakpoint:
    number: int
    line: int
    function: str = ""        # set for `break FUNC`


@dataclass
class Frame:
    """One guest frame of a stopped thread, as a debugger shows it."""

    index: int
    function: str             # the Lox name ("script" for the top level)
    line: int
    kind: str                 # interp | native | inlined
    cursor: object


@dataclass
class Step:
    """A step in progress: the thread, and the guest depth at or under which it ends."""

    thread: object
    depth: float


@dataclass
class Stop:
    """Where a thread stopped and why (breakpoint, step, pause, entry)."""

    thread: object
    reason: str
    breakpoints: list = field(default_factory=list)


class Debugger:
    """Breakpoints, stops and inspection of one Lox program's run."""

    def __init__(self, runtime, path: str, source: str, frontend):
        self.runtime = runtime
        self.vm = runtime.vm
        self.path = path
        self.source_lines = source.splitlines()
        self.frontend = frontend        # .stopped(debugger, Stop) -> a resume method name
        self.breakpoints = {}           # number -> Breakpoint
        self.next_number = 1
        self.lines = breakpoint_sites(runtime.program.module)   # line -> functions
        self.step = None
        self.pausing = False          # a pause asked for and not yet answered by a stop
        self.stop = None
        self.view = None              # the stopped thread's frames
        self.other_views = {}         # thread -> frames, of other threads looked at
        self.thread_selected = None
        self.frame_index = 0
        self.names = {c.ir_name: c for c in runtime.program.codes}
        self.vm.breakpoints.handler = self._reached

    # --- breakpoints --------------------------------------------------------------------

    def break_line(self, line: int) -> Breakpoint:
        """A breakpoint at a source line with code (a statement or a loop test)."""
        if not self.has_code(line):
            raise DebuggerError(f"no code at line {line}")
        return self._add(Breakpoint(self.next_number, line))

    def has_code(self, line: int) -> bool:
        """Whether a breakpoint may be set at `line` (fixed once the program is compiled:
        safe to ask from any thread)."""
        return line in self.lines

    def break_function(self, name: str) -> Breakpoint:
        """A breakpoint at the first line of a function's body (every function and
        method of that name)."""
        irs = [c.ir_name for c in self.runtime.program.codes
               if c.name == name and c.kind != "script"]
        if not irs:
            raise DebuggerError(f"no function '{name}'")
        first = min(line for line, funcs in self.lines.items() if funcs & set(irs))
        return self._add(Breakpoint(self.next_number, first, name))

    def _add(self, bp: Breakpoint) -> Breakpoint:
        self.breakpoints[bp.number] = bp
        self.next_number += 1
        self.vm.breakpoints.arm(bp.line)
        return bp

    def delete(self, number: int) -> None:
        bp = self.breakpoints.pop(number, None)
        if bp is None:
            raise DebuggerError(f"no breakpoint number {number}")
        if not any(b.line == bp.line for b in self.breakpoints.values()):
            self.vm.breakpoints.disarm(bp.line)

    # --- stops ----------------------------------------------------------------------------

    def _reached(self, thread, line: int) -> None:
        """A thread is at a breakpoint site (armed, or any while a thread steps): stop
        there if a breakpoint or the step says so."""
        hit = [b.number for b in self.breakpoints.values() if b.line == line]
        step = self.step
        if step is not None and step.thread is thread and self._depth(thread) <= step.depth:
            self._stop_here(Stop(thread, "step", hit))
        elif hit:          # a breakpoint's line is armed while the breakpoint exists
            self._stop_here(Stop(thread, "breakpoint", hit))

    @staticmethod
    def _depth(thread) -> int:
        """The thread's guest depth (frames of every tier, inlined ones included)."""
        return thread.interp.depth_base + len(thread.interp.frames)

    def pause(self, thread) -> None:
        """Stop a thread at its next poll, asked from any OS thread (DAP's `pause`, from
        the adapter's reader): the thread stops itself there, the world stopped, as at a
        breakpoint, so the front end runs in a guest thread as at every stop.  A stop of
        any kind before then answers the request (no second stop comes of it)."""
        self.pausing = True

        def stop(target):
            if self.pausing:
                self._stop_here(Stop(target, "pause"))
        self._post(thread, stop)

    def at_next_poll(self, operation) -> None:
        """Run `operation()` once, in whichever live guest thread polls first: how a
        front end changes the program while it runs (DAP's setBreakpoints then) — the VM
        is changed only by its own threads, holding the VM lock."""
        done = []

        def run(thread):
            if not done:
                done.append(thread)
                operation()
        for thread in list(self.vm.threads.all):
            if not thread.done:
                self._post(thread, run)

    def _post(self, thread, operation) -> None:
        """Have `thread` run `operation(thread)` at its next poll, in any tier (at the
        entry poll of an OSR clone it still shows the interpreter frame that entered;
        code invalidated there does not start: `NativeEngine.machine_frames`, the
        declined entry of native/lower.py)."""
        self.vm.threads.post(thread, operation, "debug")
        if thread.native is not None:      # it may be in a native loop, deaf to the
            thread.native.request_poll()   # interpreter's poll flag

    def start(self) -> None:
        """Before the program runs: the front end sets breakpoints, then resumes."""
        self.stop = Stop(self.vm.threads.current(), "entry")
        self.view = None
        self._resume(self.frontend.stopped(self, self.stop))

    def _stop_here(self, stop: Stop) -> None:
        self.vm.threads.stop_the_world(
            lambda: self._stopped(stop, ThreadView(self.vm, stop.thread)), "debug")

    def _stopped(self, stop: Stop, view) -> None:
        self.stop, self.view, self.frame_index = stop, view, 0
        self.pausing = False
        self._set_step(None)
        try:
            action = self.frontend.stopped(self, stop)
        finally:
            self._close_views()
        self._resume(action, view)

    def _close_views(self) -> None:
        for view in [self.view, *self.other_views.values()]:
            if view is not None:
                view.open = False
        self.other_views = {}
        self.thread_selected = None

    def _resume(self, action: str, view=None) -> None:
        """continue | step | next | finish | quit | detach."""
        thread = self.stop.thread
        # Before the program starts every step ends at its first statement.
        frames = len(view.frames) if view is not None else float("inf")
        if action == "quit":
            raise Quit()
        if action == "detach":
            for number in list(self.breakpoints):
                self.delete(number)
            self.vm.breakpoints.handler = None
        elif action == "step":
            self._set_step(Step(thread, float("inf")))
        elif action == "next":
            self._set_step(Step(thread, frames))
        elif action == "finish":
            self._set_step(Step(thread, frames - 1 - self.frame_index))
        self.stop = None
        self.view = None

    def _set_step(self, step) -> None:
        """Start or end stepping: the stepping thread runs in the interpreter meanwhile."""
        old, self.step = self.step, step
        self.vm.breakpoints.stepping[0] = step is not None
        engine = self.vm.tiers.engine if self.vm.tiers is not None else None
        if engine is None:
            return
        if old is not None and old.thread.native is not None and \
                (step is None or step.thread is not old.thread):
            engine.set_stepping(old.thread.native, False)
        if step is not None and step.thread.native is not None:
            engine.set_stepping(step.thread.native, True)

    # --- inspection at a stop ------------------------------------------------------------

    def _view_of(self, thread):
        if self.stop is None:
            raise DebuggerError("the program is not stopped")
        if thread is self.stop.thread and self.view is not None:
            return self.view
        if thread not in self.other_views:
            self.other_views[thread] = ThreadView(self.vm, thread)
        return self.other_views[thread]

    def frames(self, thread=None) -> list:
        """The stopped thread's frames (or another thread's), innermost first, without
        the runtime library's own."""
        view = self._view_of(thread or self.selected_thread())
        out = []
        if not view.frames:
            return out
        cursor = view.cursor()
        while True:
            func = cursor.func
            if not func.startswith(LIBRARY_PREFIXES):
                out.append(Frame(len(out), self.function_name(func), cursor.line or 0,
                                 cursor.kind, cursor))
            if not cursor.has_caller():
                return out
            cursor = cursor.next()

    def function_name(self, ir_name: str) -> str:
        info = self.names.get(ir_name)
        return "script" if info is None or info.kind == "script" else info.name

    def selected_thread(self):
        return self.thread_selected or self.stop.thread

    def select_thread(self, number: int) -> None:
        threads = {t.index + 1: t for t in self.vm.threads.all}
        if number not in threads:
            raise DebuggerError(f"no thread {number}")
        self.thread_selected = threads[number]
        self.frame_index = 0

    def selected_frame(self) -> Frame:
        frames = self.frames()
        if not frames:
            raise DebuggerError("the thread has no frames")
        return frames[min(self.frame_index, len(frames) - 1)]

    def select_frame(self, index: int) -> Frame:
        frames = self.frames()
        if not 0 <= index < len(frames):
            raise DebuggerError(f"no frame {index}")
        self.frame_index = index
        return frames[index]

    def locals(self, frame: Frame | None = None) -> dict:
        """{name: text} of the frame's Lox variables in scope ("<optimized out>" for one
        compiled code did not keep)."""
        return {name: self.text(word) for name, word in self.local_words(frame).items()}

    def local_words(self, frame: Frame | None = None) -> dict:
        """{name: word} of the frame's Lox variables in scope (None: optimized out)."""
        return (frame or self.selected_frame()).cursor.variables()

    def evaluate(self, expr: str) -> str:
        """NAME, NAME.field.field...: a local of the selected frame, else a global."""
        return self.text(self.value_of(expr))

    def value_of(self, expr: str):
        """The word `evaluate` shows (a front end that expands instances needs it)."""
        name, *fields = [part.strip() for part in expr.split(".")]
        word = self._lookup(name)
        for field_name in fields:
            word = self._field(word, field_name)
        return word

    def global_words(self) -> dict:
        """{name: word} of the Lox globals defined so far, in the order they were
        declared."""
        words = {name: self.runtime.global_word(name) for name in self.runtime.program.globals}
        return {name: word for name, word in words.items() if word is not None}

    def fields(self, word) -> dict:
        """{name: word} of an instance's fields ({} for any other value)."""
        heap = self.vm.heap
        if word is None or heap.kind_of(word) is not ObjKind.INSTANCE:
            return {}
        return {heap.string_text(name): value for name, value in heap.instance_fields(word)}

    def _lookup(self, name: str):
        if self.stop is not None and self.frames():
            variables = self.selected_frame().cursor.variables()
            if name in variables:
                return variables[name]
        word = self.runtime.global_word(name)
        if word is None:
            raise DebuggerError(f"no variable '{name}'")
        return word

    def _field(self, word, name: str):
        heap = self.vm.heap
        if word is None or heap.kind_of(word) is not ObjKind.INSTANCE:
            raise DebuggerError(f"not an instance: no field '{name}'")
        value = heap.instance_get_field(word, heap.intern(name))
        if value is None:
            raise DebuggerError(f"no field '{name}'")
        return value

    def assign(self, name: str, literal: str) -> str:
        """`set NAME = VALUE`: a local of the selected frame (in a compiled frame the
        change is deferred until it leaves native code), else a global."""
        word = self._literal(literal)
        frame = self.selected_frame() if self.frames() else None
        if frame is not None and name in frame.cursor.variables():
            self._assign_local(frame, name, word)
        else:
            self._assign_global(name, word)
        return self.text(word)

    def assign_global(self, name: str, literal: str) -> str:
        """A global, even where a local of the selected frame has its name (a front end
        that shows globals apart from locals)."""
        word = self._literal(literal)
        self._assign_global(name, word)
        return self.text(word)

    def assign_field(self, instance, name: str, literal: str) -> str:
        """An existing field of an instance (a word `value_of` or `fields` gave)."""
        word = self._literal(literal)
        self._field(instance, name)
        self.vm.heap.instance_set_field(instance, self.vm.heap.intern(name), word)
        return self.text(word)

    def _literal(self, literal: str):
        try:
            return self.runtime.literal(literal)
        except ValueError as error:
            raise DebuggerError(str(error)) from None

    def _assign_local(self, frame: Frame, name: str, word) -> None:
        held = self.runtime.source_operand(frame.cursor.guest.frame, name)
        if held is None:
            raise DebuggerError(f"'{name}' is a constant here")
        ssa, boxed = held
        if boxed:
            self.vm.heap.box_set(frame.cursor.value(ssa), word)
            return
        try:
            frame.cursor.set_value(ssa, word)
        except ClientAPIError as error:
            raise DebuggerError(str(error)) from None

    def _assign_global(self, name: str, word) -> None:
        try:
            self.runtime.assign_global(name, word)
        except ValueError as error:
            raise DebuggerError(str(error)) from None

    def threads(self) -> list:
        """(number, name, state, stopped here) of every VM thread."""
        current = self.selected_thread() if self.stop is not None else None
        return [(t.index + 1, t.name, t.state.name.lower(), t is current)
                for t in self.vm.threads.all]

    def text(self, word) -> str:
        """A value as the debugger shows it: as `print` would, strings quoted."""
        if word is None:
            return "<optimized out>"
        heap = self.vm.heap
        if tagref.is_ref(word) and heap.kind_of(word) is ObjKind.STRING:
            return '"' + heap.string_text(word) + '"'
        return self.runtime.to_text(word)

    def source_line(self, line: int) -> str:
        lines = self.source_lines
        return lines[line - 1] if 0 < line <= len(lines) else ""
