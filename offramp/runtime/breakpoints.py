"""Breakpoint sites: where a debugger may stop a thread, in every tier.

A client that supports debugging puts a BREAKPOINT instruction at each place a user may
stop (Lox: the start of every statement and every loop test, id = the source line) when
the VM is built for debugging (`Config.debug`).  Each id has an *armed* flag:
- the interpreter stops at a BREAKPOINT whose id is armed, or at any BREAKPOINT while the
  thread steps (`stepping`);
- native code reads the id's flag word at each BREAKPOINT it was compiled with (a load and
  a branch: an armed but untaken breakpoint costs that) and, when set, calls the runtime
  with the instruction's frame state — a safepoint: the frame stays native while the
  debugger looks at it, and continues natively afterwards (unless a variable of it was
  changed: it then leaves lazily, resuming in the interpreter with the new value).
A client's optimizer leaves out the BREAKPOINTs whose id is not armed, under the
assumption `("breakpoint", id)` (runtime/assumptions.py): arming the id breaks it, so the
code compiled without the site is invalidated — its running frames leave at their next
poll or return — and compiled again with the site.  Disarming leaves the check in place.

Stepping runs in the interpreter: `NativeEngine.set_stepping` marks every native frame of
the thread to leave lazily (the thread's deopt target DEOPT_ALL) and keeps the thread out
of native code until the step ends.
"""
import ctypes
from dataclasses import dataclass, field

WORD = ctypes.c_uint64


@dataclass
class Breakpoints:
    """The VM's breakpoint flags and who is told when a thread stops at one."""

    vm: object
    armed: set = field(default_factory=set)          # ids (the interpreter reads it)
    words: dict = field(default_factory=dict)        # id -> its flag word (native code)
    stepping: list = field(default_factory=lambda: [False])   # any thread stepping
    # fn(VM thread, id): a thread reached an armed breakpoint, or stepped onto a site;
    # runs in that thread, which is stopped at a safepoint while it runs.
    handler: object = None
    hits: int = 0            # sites reached armed or stepping (the handler decides stops)

    def address(self, bpid: int) -> int:
        """The address of breakpoint `bpid`'s flag word (native code loads it)."""
        word = self.words.get(bpid)
        if word is None:
            word = self.words[bpid] = WORD(int(bpid in self.armed))
        return ctypes.addressof(word)

    def arm(self, bpid: int) -> None:
        """Stop at `bpid` from now on, in every tier: compiled code that left it out is
        invalidated (its frames leave lazily) and compiled again with it."""
        self.armed.add(bpid)
        self.address(bpid)
        self.words[bpid].value = 1
        self.vm.assumptions.break_(("breakpoint", bpid), "breakpoint armed")

    def disarm(self, bpid: int) -> None:
        """Stop no more at `bpid`; compiled code keeps the (untaken) check."""
        self.armed.discard(bpid)
        if bpid in self.words:
            self.words[bpid].value = 0

    def may_leave_out(self, bpid: int) -> bool:
        """Whether an optimizer may compile code without site `bpid` (then it must
        `depend` on ("breakpoint", bpid))."""
        return bpid not in self.armed and self.vm.assumptions.holds(("breakpoint", bpid))

    def reached(self, thread, bpid: int) -> None:
        """A thread stopped at a breakpoint site (interpreter step or native runtime
        entry): the handler decides whether it is a stop."""
        self.hits += 1
        if self.handler is not None:
            self.handler(thread, bpid)

    def stats(self) -> dict:
        return {"breakpoint sites reached": self.hits} if self.words or self.armed else {}
