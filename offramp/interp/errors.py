"""Errors that cross interpreter frames.

GuestError is an error of the guest program (a Lox runtime error, a stack overflow): it
unwinds guest frames and carries the stack as it was where it was raised, so the client can
print its own stack trace.  VMError is a broken VM invariant or a misuse of the VM API by a
client: a bug to report, never something a guest program can cause on purpose.
"""


class GuestError(Exception):
    """A guest-level runtime error; `stack` is [(FunctionVersion, Instr)], innermost last.
    `cause_stack`: the stack of the thread the error happened in, when joining that thread
    raised it again in another (reported innermost part, before `stack`)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.stack = None
        self.cause_stack = None


class VMError(Exception):
    """An internal invariant was broken, or the client API was misused."""
