"""Running an IR text file with `offramp run FILE.ir`.

The file is parsed and verified, linked against the IR standard helpers below, and its
`@main` (no parameters) runs on the main thread.  If `@main` returns a value it is printed.
`@watchpoint.enable(id)` and `@watchpoint.disable(id)` switch a WATCHPOINT id on and off.
Traps reach a default handler that prints the trap's name, position and keep-alive values
and resumes with a zero of the trap's type — a client API demo; real clients register
their own handler through `VM.set_trap_handler`.  A funcref has no zero: the interpreter's
check of a handler's values stops a funcref-typed trap with a run-time error.

A module with a version marked UNSAFE (see `ir/ops.py`, Safety) runs only when the
command is given `--unsafe` (Config.unsafe); otherwise the runner names the first such
version and stops with exit 65.  Without it, every version is safe: whatever it does ends
in its result or a clean error, in every tier.

Exit status: 0; 65 for a syntax or verification error, or an UNSAFE version without
`--unsafe` (reported as FILE:LINE:COL); 70 for an error at run time — a guest error is
reported with the IR position (and FILE:LINE:COL) of the instruction that raised it.
"""
from ..interp.errors import GuestError, VMError
from ..ir import tagref
from ..ir.analysis import value_types
from ..ir.text import IRSyntaxError, parse_module
from ..ir.nodes import Function
from ..ir.types import (DOUBLE, I1, I64, TAGREF64, DoubleType, FuncRefType, FuncSig, IntType,
                        TagRef64Type)
from ..ir.verify import VerifyError, verify_module
from ..interp.semantics import signed
from ..trace import print_stats
from .vm import VM

EXIT_OK, EXIT_BAD_INPUT, EXIT_RUNTIME_ERROR = 0, 65, 70


def format_value(value, ty) -> str:
    """A value as the IR runner prints it: signed integers, repr of doubles, tagref64 forms."""
    if isinstance(ty, IntType):
        return str(signed(value, ty.bits))
    if isinstance(ty, DoubleType):
        return repr(value)
    if isinstance(ty, TagRef64Type):
        return tagref.describe(value)
    if isinstance(ty, FuncRefType) and isinstance(value, Function):
        return "@" + value.name
    return repr(value)


def standard_helpers(stdout, vm_of=lambda: None) -> dict:
    """name -> (signature, implementation) of the externs every IR program may declare
    (`vm_of()`: the VM running the program, for the watchpoint switches)."""
    def printer(ty):
        return lambda v: print(format_value(v, ty), file=stdout)

    def fail(code):
        raise GuestError(f"error {signed(code, 64)}")

    def switch(enable):
        def flip(wpid):
            vm = vm_of()
            if vm is None:
                raise VMError("watchpoints are switched by a running VM only")
            (vm.enable_watchpoint if enable else vm.disable_watchpoint)(wpid)
        return flip
    return {
        "print.i64": (FuncSig((I64,), ()), printer(I64)),
        "print.i1": (FuncSig((I1,), ()), printer(I1)),
        "print.double": (FuncSig((DOUBLE,), ()), printer(DOUBLE)),
        "print.tagref64": (FuncSig((TAGREF64,), ()), printer(TAGREF64)),
        "error": (FuncSig((I64,), ()), fail),
        "watchpoint.enable": (FuncSig((I64,), ()), switch(True)),
        "watchpoint.disable": (FuncSig((I64,), ()), switch(False)),
    }


def link_helpers(module, library: dict) -> dict:
    """Implementations for the module's externs, checking their declared signatures."""
    helpers = {}
    for name, extern in module.externs.items():
        if name not in library:
            raise VMError(f"extern @{name} is not a standard helper "
                          f"(known: {', '.join(sorted(library))})")
        sig, impl = library[name]
        if extern.sig != sig:
            raise VMError(f"extern @{name} is declared with another signature than the "
                          f"standard helper's")
        helpers[name] = impl
    return helpers


def print_trap(stdout):
    """The default trap handler: report the trap and resume with a zero value."""
    def handler(ctx):
        cursor = ctx.cursor()
        values = ", ".join(format_value(v, ty) for v, ty in zip(
            cursor.keepalives(), _keepalive_types(ctx.vm.module, cursor)))
        print(f"trap {'%' + cursor.instruction_name if cursor.instruction_name else ''} at "
              f"@{cursor.func} %{cursor.version} %{cursor.block}[{cursor.index}]: "
              f"keepalive ({values})", file=stdout)
        ty = cursor.instruction.arg("type")
        zero = 0.0 if isinstance(ty, DoubleType) else 0
        return ctx.pass_values() if ty.text() == "void" else ctx.pass_values(zero)
    return handler


def _keepalive_types(module, cursor):
    ctx = value_types(module, module.version(cursor.func, cursor.version))
    return [ctx.type_of(o) for o in cursor.instruction.arg("keepalive")]


def _source_position(module, path: str, *key) -> str:
    """`FILE:LINE:COL` of a version (func, version) or instruction (.., block, index) as the
    parser saw it, or `FILE` alone for IR that did not come from text."""
    pos = module.positions.get(key)
    return f"{path}:{pos[0]}:{pos[1]}" if pos else path


def _verify_error(path: str, error: VerifyError) -> str:
    """A verifier message after the FILE:LINE:COL where the parser read the culprit."""
    where = f"{path}:{error.line}:{error.column}" if error.line is not None else path
    return f"{where}: {error}"


def _unsafe_refusal(module, path: str, config) -> str | None:
    """Why the module may not run: a version marked UNSAFE without `--unsafe` (else None)."""
    if config.unsafe:
        return None
    for func in module.functions.values():
        for version in func.versions:
            if version.unsafe:
                return (f"{_source_position(module, path, func.name, version.name)}: "
                        f"@{func.name} VERSION %{version.name} is marked UNSAFE (it may forge "
                        f"references or pointers); run it with --unsafe to allow that")
    return None


def _guest_error(module, path: str, error: GuestError) -> str:
    """The error's message, after the position of the instruction that raised it."""
    if not error.stack:
        return error.message
    version, instr = error.stack[-1]
    for block in version.blocks:
        for i, candidate in enumerate(block.instrs):
            if candidate is instr:
                where = _source_position(module, path, version.func, version.name,
                                         block.label, i)
                return (f"{where}: @{version.func} VERSION %{version.name}, block "
                        f"%{block.label}, instruction {i} ({instr.op}): {error.message}")
    return f"{path}: @{version.func} VERSION %{version.name} ({instr.op}): {error.message}"


def run_ir(source: str, path: str, config, stdout, stderr) -> int:
    """Parse, verify and run an IR text file; returns the exit status."""
    try:
        module = parse_module(source, path)
        verify_module(module)
    except IRSyntaxError as error:
        print(str(error), file=stderr)
        return EXIT_BAD_INPUT
    except VerifyError as error:
        print(_verify_error(path, error), file=stderr)
        return EXIT_BAD_INPUT
    if "main" not in module.functions or module.functions["main"].sig.params:
        print(f"{path}: the module needs a @main without parameters", file=stderr)
        return EXIT_BAD_INPUT
    undefined = [f.name for f in module.functions.values() if not f.versions]
    if undefined:
        print(f"{path}: @{undefined[0]} is declared (.funcdecl) but has no .funcdef",
              file=stderr)
        return EXIT_BAD_INPUT
    refusal = _unsafe_refusal(module, path, config)
    if refusal:
        print(refusal, file=stderr)
        return EXIT_BAD_INPUT
    try:
        running = []
        library = standard_helpers(stdout, lambda: running[0] if running else None)
        vm = VM(module, config, helpers=link_helpers(module, library))
        running.append(vm)
        vm.set_trap_handler(print_trap(stdout))
        with vm.sigint_interrupts():
            result = vm.call("main", [])
    except GuestError as error:
        print(_guest_error(module, path, error), file=stderr)
        return EXIT_RUNTIME_ERROR
    except VMError as error:
        print(f"{path}: {error}", file=stderr)
        return EXIT_RUNTIME_ERROR
    results = module.functions["main"].sig.results
    if results:
        print(format_value(result, results[0]), file=stdout)
    if config.stats:
        print_stats(vm.stats(), stderr, config.stats_format)
    return EXIT_OK
