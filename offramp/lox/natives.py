"""The table of Lox's native functions and native methods.

Each row becomes an IR function `@lox.native.NAME` (so a native call is an ordinary IR
call and frame) whose body calls the runtime helper `helper` with the receiver (for
methods) and the arguments.  As in clox, a native called with more arguments than it takes
ignores the extra ones (`clock(1)` is `clock()`): the program's calls with more get a
wrapper `@lox.native.NAME.ARGC`; fewer is the usual arity error.  Global natives are defined as Lox globals at start-up;
methods of a built-in receiver kind are found by property lookup on such a value.
"""
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NativeDef:
    """A native: its Lox name, arity, helper, and the built-in kind it is a method of."""

    name: str
    arity: int
    helper: str
    receiver: str | None
    doc: str

    @property
    def ir_name(self) -> str:
        return f"lox.native.{self.receiver + '.' if self.receiver else ''}{self.name}"

    def ir_name_for(self, argc: int) -> str:
        """The IR function a call with `argc` arguments runs: with more than the native
        takes, a wrapper that drops the extra ones (clox's natives ignore them)."""
        return self.ir_name if argc == self.arity else f"{self.ir_name}.{argc}"


NATIVES = (
    NativeDef("clock", 0, "lox.clock", None, "Seconds since the program started (float)."),
    NativeDef("Array", 1, "lox.array_new", None, "A fixed-size array of n nils."),
    NativeDef("deoptHere", 0, "lox.deopt_here", None,
              "Deoptimize the calling frame if it is native code; nothing in the interpreter."),
    # The natives LoxLox (a Lox interpreter written in Lox) and other Lox JITs use.
    NativeDef("getc", 0, "lox.getc", None,
              "The next byte of standard input as a number; -1 at its end."),
    NativeDef("chr", 1, "lox.chr", None,
              "The one-character string of character code n (an integer, 0 to 1114111, "
              "not a surrogate; 0-127 are ASCII)."),
    NativeDef("exit", 1, "lox.exit", None,
              "Flush the output and end the program with exit status n (0 to 255)."),
    NativeDef("print_error", 1, "lox.print_error", None,
              "Print a value as `print` does, on standard error."),
    # Threads (README): OS threads; native code runs in parallel, the interpreter under the
    # VM lock.
    NativeDef("spawn", 1, "lox.spawn", None,
              "Start a thread running fn() (a function, closure or bound method of no "
              "parameters); returns the thread."),
    NativeDef("join", 1, "lox.join", None,
              "Wait for a thread to end and return what its function returned (its runtime "
              "error is raised in the joiner)."),
    NativeDef("Lock", 0, "lox.lock_new", None, "A new lock, free."),
    NativeDef("acquire", 0, "lox.lock_acquire", "Lock",
              "Take the lock, waiting while another thread holds it."),
    NativeDef("release", 0, "lox.lock_release", "Lock", "Give the lock up."),
    NativeDef("get", 1, "lox.array_get", "Array", "Element i of the array."),
    NativeDef("set", 2, "lox.array_set", "Array", "Store v at index i; returns v."),
    NativeDef("length", 0, "lox.array_length", "Array", "The number of elements."),
)
