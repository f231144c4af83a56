"""The stages of compiling a unit (a function, or a loop's OSR entry clone) to native code,
and what a failure in one of them is.

The native tier is an optimization, so a unit that cannot be compiled is an ordinary
outcome, not an error of the program: every stage runs inside `compile_stage`, which turns
whatever it raises (a pass's exception, a verifier failure, LLVM refusing its input, a stack
map the reader does not understand) into a `CompileError` naming the stage.  The tiering
policy (runtime/tiering.py) catches it, retries the unit with less, or leaves it in the
interpreter, and reports it under `--trace=tier` and `--stats`.

What cannot be caught are the errors LLVM reports by exiting the process (such as running
out of registers): those are prevented before LLVM sees the module — frame states at deopt
exits are statepoints (lower.py), which LLVM spills itself.

`Config.fail_compile_stage` names a stage at which every compilation fails on purpose, so
tests reach each of these paths.
"""
from contextlib import contextmanager

COMPILE_STAGES = {
    "size": "the unit's size against Config.max_native_instructions",
    "optimize": "the client's optimizer: speculation, inlining and the IR passes",
    "verify": "the IR verifier on the version to compile (with --verify-ir)",
    "lower": "IR to LLVM IR text",
    "llvm": "LLVM: parse, verify, optimize and emit machine code",
    "stackmaps": "reading the stack-map section into the side table",
}


class CompileError(Exception):
    """A unit could not be compiled: the stage that failed and the exception it raised."""

    def __init__(self, stage: str, cause: BaseException):
        super().__init__(stage, cause)
        self.stage = stage
        self.cause = cause

    def __str__(self):
        message = str(self.cause).strip().splitlines()
        detail = f": {message[0]}" if message else ""
        return f"{self.stage} failed ({type(self.cause).__name__}{detail})"


class InjectedFailure(Exception):
    """The failure `Config.fail_compile_stage` asks for."""


@contextmanager
def compile_stage(stage: str, fail_stage: str = ""):
    """Run one stage of a compilation; any exception in it becomes a CompileError."""
    if stage not in COMPILE_STAGES:
        raise ValueError(f"unknown compile stage {stage!r}")
    if stage == fail_stage:
        raise CompileError(stage, InjectedFailure(f"forced by fail_compile_stage={stage}"))
    try:
        yield
    except CompileError:
        raise
    except Exception as error:  # noqa: BLE001 - any failure of a stage is the unit's, not the VM's
        raise CompileError(stage, error) from error
