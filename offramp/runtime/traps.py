"""The client's view of a stopped thread: trap contexts and frame cursors (the Mu model).

When a thread reaches a TRAP (or an enabled WATCHPOINT) it is unbound from its stack and
the client's handler gets a TrapContext.  Through a FrameCursor the handler walks the
frames from the top, reading each one's function, version, instruction, keep-alive values
and variables (and changing variables).  It may pop frames (returning early from them),
push frames (version, resume point, values), and finally says how the thread is rebound:
passing values to the top frame or throwing a guest error into it.

Misuse (a cursor over a popped frame, pushing a frame of an unknown version, resuming the
wrong way) raises ClientAPIError, a Python exception; it never corrupts the stack.
"""
from ..interp.errors import GuestError, VMError
from ..interp.interpreter import Resumption


class ClientAPIError(VMError):
    """The client used the trap API in a way that cannot be honoured."""


class FrameCursor:
    """A position on a stopped thread's stack: one frame, from the top (depth 0) down."""

    def __init__(self, ctx: "TrapContext", depth: int):
        self._ctx = ctx
        self._depth = depth
        self._frame = ctx.thread.frames[-1 - depth]

    @property
    def frame(self):
        """The frame under the cursor (checked to still be on the stack)."""
        frames = self._ctx.thread.frames
        index = len(frames) - 1 - self._depth
        if index < 0 or frames[index] is not self._frame:
            raise ClientAPIError("this cursor's frame is no longer on the stack")
        return self._frame

    @property
    def kind(self) -> str:
        """What the frame was when the thread stopped: "interp", "native" (a compiled
        function's own frame) or "inlined" (a frame of code inlined into one).  A trap
        in native code rebuilds every frame above the thread's first entry into native
        code as an interpreter frame before the handler runs — as JVMTI's PopFrame and
        ForceEarlyReturn deoptimize the frames they touch — so that the handler can pop,
        push and change them; the frames it leaves in place resume in the interpreter
        and their loops re-enter native code by OSR."""
        return self._ctx.thread.origins.get(id(self.frame), "interp")

    @property
    def func(self) -> str:
        return self.frame.func_name

    @property
    def version(self) -> str:
        return self.frame.version.name

    @property
    def block(self) -> str:
        return self.frame.block

    @property
    def index(self) -> int:
        return self.frame.index

    @property
    def instruction(self):
        """The instruction the frame is stopped at (the trap, or the call in progress)."""
        return self.frame.instruction

    @property
    def instruction_name(self) -> str | None:
        """The Mu-style name `[%name]` of that instruction, if it has one."""
        return self.frame.instruction.name

    def keepalives(self) -> tuple:
        """The values of that instruction's KEEPALIVE clause."""
        return self.frame.keepalive_values()

    def value(self, name: str):
        return self.frame.value(name)

    def set_value(self, name: str, value) -> None:
        """Change a variable of the frame before it resumes."""
        self.frame.set_value(name, value)

    def values(self) -> dict:
        return self.frame.values()

    def has_caller(self) -> bool:
        return self._depth + 1 < len(self._ctx.thread.frames)

    def next(self) -> "FrameCursor":
        """A cursor on the caller's frame."""
        if not self.has_caller():
            raise ClientAPIError("the bottom frame has no caller")
        return FrameCursor(self._ctx, self._depth + 1)

    def __repr__(self):
        return f"<FrameCursor depth {self._depth} {self.frame!r}>"


class TrapContext:
    """What a trap handler may do with the stopped thread."""

    def __init__(self, vm, thread):
        self.vm = vm
        self.thread = thread

    def cursor(self) -> FrameCursor:
        """A cursor on the top frame (the one that trapped, unless frames were pushed)."""
        if not self.thread.frames:
            raise ClientAPIError("the thread has no frames")
        return FrameCursor(self, 0)

    def pop_frames_to(self, cursor: FrameCursor) -> None:
        """Pop every frame above `cursor`'s; that frame becomes the top (still waiting)."""
        target = cursor.frame
        frames = self.thread.frames
        while frames[-1] is not target:
            frames.pop()

    def push_frame(self, func: str, version: str, block: str, index: int,
                   values: dict) -> FrameCursor:
        """Push a frame that resumes at (block, index) of `func` VERSION `version`."""
        try:
            frame = self.vm.interp.frame_at(func, version, block, index, dict(values))
        except (KeyError, VMError) as e:
            raise ClientAPIError(f"cannot push frame: {e}") from None
        self.thread.frames.append(frame)
        return FrameCursor(self, 0)

    def pass_values(self, *values) -> Resumption:
        """Rebind the thread, handing `values` to the top frame's stopped instruction."""
        return Resumption(tuple(values))

    def throw(self, message: str) -> Resumption:
        """Rebind the thread by raising a guest error in the top frame."""
        return Resumption(error=GuestError(message))
