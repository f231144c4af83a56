"""Frame cursors over a stopped thread's guest frames, in every tier (the Mu frame API
from a handshake: a debugger stop, a profiler sample, a tool).

`VM.inspect(thread, operation)` stops `thread` at its next safepoint (a handshake of kind
"debug") and calls `operation(view)` with a `ThreadView` of its guest stack, innermost
frame first.  Each frame is marked with its kind:
- "interp": an interpreter frame;
- "native": the frame of a compiled function, rebuilt from the side table at the site
  where the frame stopped (its poll, or the call it waits in);
- "inlined": a frame of code inlined into a compiled function (a virtual frame of the
  same machine frame, rebuilt from the same site's chain of frame states).
For each: function, version, resume point (block, index, instruction, line) and variable
values.  A compiled frame keeps only the values its frame state keeps: a dead variable
reads as None ("optimized out").

`set_value` on an interpreter frame changes it; on a native or inlined frame it is
deferred (HotSpot's deferred locals): the native frame is marked to leave lazily — when
the call it waits in returns, or at its next poll — and the interpreter resumes it with
the new value (a thread has at most one such marked native frame at a time).  The view
is valid only while `operation` runs: the thread runs on after it, and its frames move.

Misuse (a view used after its handshake, a cursor past the bottom, an unknown variable)
raises ClientAPIError.

A profiler needs less than a view: `sample_stack(vm, thread)` gives each guest frame's
kind, function and line only (no values are decoded), through the same walk
(`NativeEngine.machine_frames`); `site_samples(module, site)` gives those of one native
call site, for a sampler that found the site by a return address (tools/profile, which
walks native frames in native code and maps their return addresses afterwards).
"""
from dataclasses import dataclass

from ..interp.errors import VMError
from .traps import ClientAPIError


@dataclass(frozen=True)
class GuestFrame:
    """One guest frame of a stopped thread."""

    kind: str                 # interp | native | inlined
    frame: object             # the interpreter Frame, or a snapshot rebuilt from native code
    address: int | None       # the machine frame's address (native and inlined frames)
    place: int                # its index in its site's chain of frames (0: innermost)


class ThreadView:
    """The guest stack of a thread stopped at a safepoint, innermost frame first."""

    def __init__(self, vm, thread):
        self.vm = vm
        self.thread = thread
        self.open = True
        engine = vm.tiers.engine if vm.tiers is not None else None
        if engine is not None and thread.native is not None:
            found = engine.native_snapshots(thread.native, thread.interp)
        else:
            found = [("interp", f, None, 0) for f in thread.interp.frames]
        self.frames = [GuestFrame(*f) for f in reversed(found)]

    def cursor(self) -> "StackCursor":
        """A cursor on the innermost frame."""
        self.check()
        if not self.frames:
            raise ClientAPIError("the thread has no frames")
        return StackCursor(self, 0)

    def check(self) -> None:
        if not self.open:
            raise ClientAPIError("this thread view's handshake is over: its frames moved on")

    def __len__(self):
        return len(self.frames)


class StackCursor:
    """A position on a ThreadView: one guest frame, from the innermost (depth 0) out."""

    def __init__(self, view: ThreadView, depth: int):
        self._view = view
        self.depth = depth

    @property
    def guest(self) -> GuestFrame:
        self._view.check()
        return self._view.frames[self.depth]

    kind = property(lambda self: self.guest.kind)
    func = property(lambda self: self.guest.frame.func_name)
    version = property(lambda self: self.guest.frame.version.name)
    block = property(lambda self: self.guest.frame.block)
    index = property(lambda self: self.guest.frame.index)
    line = property(lambda self: self.guest.frame.line)

    @property
    def instruction(self):
        """The instruction the frame stopped at (the poll, or the call it waits in)."""
        return self.guest.frame.instruction

    def value(self, name: str):
        """A variable's value (None when compiled code does not keep it here)."""
        frame = self.guest.frame
        if name not in frame.code.slots:
            raise ClientAPIError(f"@{frame.func_name} has no variable %{name}")
        return frame.value(name)

    def values(self) -> dict:
        """Every SSA name of the frame's version with its value (None: undefined here,
        or not kept by compiled code)."""
        return self.guest.frame.values()

    def variables(self) -> dict:
        """The client's source variables in scope, by name (`VM.source_variables`, e.g.
        Lox's locals): their values, None for one compiled code did not keep."""
        source = self._view.vm.source_variables
        if source is None:
            raise ClientAPIError("the client gives no source variables")
        return source(self.guest.frame)

    def keepalives(self) -> tuple:
        return self.guest.frame.keepalive_values()

    def set_value(self, name: str, value) -> None:
        """Change a variable: at once in an interpreter frame; in a native or inlined
        frame when it leaves native code (deferred, see the module docstring)."""
        self.value(name)
        guest = self.guest
        if guest.kind != "interp":
            view = self._view
            try:
                view.vm.tiers.engine.defer_value(view.thread.native, guest.address,
                                                 guest.place, name, value)
            except VMError as error:
                raise ClientAPIError(str(error)) from None
        guest.frame.set_value(name, value)

    def has_caller(self) -> bool:
        return self.depth + 1 < len(self._view.frames)

    def next(self) -> "StackCursor":
        """A cursor on the caller's frame."""
        if not self.has_caller():
            raise ClientAPIError("the bottom frame has no caller")
        return StackCursor(self._view, self.depth + 1)

    def __repr__(self):
        g = self.guest
        return f"<StackCursor depth {self.depth} {g.kind} @{self.func} %{self.block}>"


def inspect(vm, thread, operation, kind: str = "debug"):
    """Stop `thread` at its next safepoint (a handshake of `kind`: "debug" for a
    debugger, "profile" for a sampler) and return `operation(ThreadView)`."""
    result = []

    def visit(target):
        view = ThreadView(vm, target)
        try:
            result.append(operation(view))
        finally:
            view.open = False
    vm.threads.handshake(thread, visit, kind)
    return result[0]


@dataclass(frozen=True, slots=True)
class FrameSample:
    """A guest frame as a profiler sees it: no values, only where it is."""

    kind: str                 # interp | native | inlined
    func: str
    line: int | None


def sample_stack(vm, thread) -> list:
    """The FrameSamples of a stopped thread's guest stack, innermost first."""
    engine = vm.tiers.engine if vm.tiers is not None else None
    if engine is None or thread.native is None:
        return [interp_sample(f) for f in reversed(thread.interp.frames)]
    out = []
    for item in engine.machine_frames(thread.native, thread.interp):
        if item[0] == "interp":
            out.append(interp_sample(item[1]))
        else:
            out += reversed(site_samples(engine.module, item[1]))
    out.reverse()
    return out


def interp_sample(frame) -> FrameSample:
    return FrameSample("interp", frame.func_name, frame.line)


def site_samples(module, site) -> list:
    """The frames a native call site stands for, innermost first: its inlined frames,
    then the compiled function's own ("native")."""
    out, last = [], len(site.frames) - 1
    for j, frame in enumerate(site.frames):
        fd = frame.desc
        instr = module.version(fd.func, fd.version).block(fd.block).instrs[fd.index]
        out.append(FrameSample("native" if j == last else "inlined", fd.func, instr.line))
    return out
