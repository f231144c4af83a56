"""Interpreter frames and threads: explicit objects a client can inspect and rearrange.

A Frame is (version, resume point, values).  Its resume point is a pc into the version's
flattened code; `block` and `index` give it in IR terms.  A frame is *waiting* when it is
suspended inside its current instruction (a call in progress, or a trap): resuming it
delivers values as that instruction's results and continues after it.  A frame that is not
waiting resumes by executing its current instruction (a frame rebuilt by deoptimization, or
pushed by a trap handler).
"""
from dataclasses import dataclass, field

from ..ir import tagref


class Frame:
    """One activation of a function version in the interpreter."""

    __slots__ = ("code", "regs", "pc", "waiting")

    def __init__(self, code, regs, pc=0, waiting=False):
        self.code = code          # CompiledVersion
        self.regs = regs          # list of values, indexed by slot
        self.pc = pc
        self.waiting = waiting

    @property
    def version(self):
        """The function version this frame runs (it keeps it even if a newer one appears)."""
        return self.code.version

    @property
    def func_name(self) -> str:
        return self.code.version.func

    @property
    def block(self) -> str:
        """The label of the block holding the resume point."""
        return self.code.locations[self.pc][0]

    @property
    def index(self) -> int:
        """The index of the resume point's instruction in its block."""
        return self.code.locations[self.pc][1]

    @property
    def instruction(self):
        """The IR instruction at the resume point."""
        return self.code.instrs[self.pc]

    @property
    def line(self):
        """The source line of the resume point, if the client recorded one."""
        return self.code.instrs[self.pc].line

    def value(self, name: str):
        """The current value of SSA name `name` in this frame."""
        return self.regs[self.code.slots[name]]

    def set_value(self, name: str, value) -> None:
        """Change the value of SSA name `name` (debuggers, OSR, deopt)."""
        self.regs[self.code.slots[name]] = value

    def values(self) -> dict:
        """Every SSA name of the version with its current value (undefined ones are None)."""
        return {name: self.regs[slot] for name, slot in self.code.slots.items()}

    def roots(self):
        """Every reference the frame holds, as tagref64 words (for the GC)."""
        regs = self.regs
        for s in self.code.word_slots:
            v = regs[s]
            if v is not None:
                yield v
        for s in self.code.ref_slots:
            v = regs[s]
            if v:
                yield tagref.from_ref(v)

    def keepalive_values(self) -> tuple:
        """The values of the KEEPALIVE clause of the current instruction, in order."""
        return tuple(self.regs[s] for s in self.code.keepalive_slots(self.pc))

    def __repr__(self):
        return (f"<Frame @{self.code.version.func} VERSION %{self.code.version.name} "
                f"%{self.block}[{self.index}]{' waiting' if self.waiting else ''}>")


@dataclass(slots=True)
class InterpThread:
    """A guest thread's stack of interpreter frames, outermost first."""

    frames: list = field(default_factory=list)
    name: str = "main"
    # Guest frames under this thread's frames that the interpreter does not hold (the
    # native frames of the runtime entry it runs for): they count towards max_frames.
    depth_base: int = 0
    # Frames a trap in native code rebuilt for the trap handler, by id: the kind each had
    # when the thread stopped ("native": a compiled function's frame, "inlined": a frame
    # of code inlined into one); the cursor reports it (runtime/traps.py).
    origins: dict = field(default_factory=dict)

    def top(self) -> Frame:
        return self.frames[-1]
