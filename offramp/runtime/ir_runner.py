"""Running an IR text file with `offramp run FILE.ir`.

The file is parsed and verified, linked against the IR standard helpers below, and its
`@main` (no parameters) runs on the main thread.  If `@main` returns a value it is printed.
`@watchpoint.enable(id)` and `@watchpoint.disable(id)` switch a WATCHPOINT id on and off.
Traps reach a default handler that prints the trap's name, position and keep-alive values
and resumes with a zero of the trap's type — a client API demo; real clients register
their own handler through `VM.set_trap_handler`.

Exit status: 0; 65 for a syntax or verification error (reported as FILE:LINE:COL); 70 for
a guest error raised at run time.
"""
from ..interp.errors import GuestError, VMError
from ..ir import tagref
from ..ir.analysis import value_types
from ..ir.text import IRSyntaxError, parse_module
from ..ir.types import DOUBLE, I1, I64, TAGREF64, DoubleType, FuncSig, IntType, TagRef64Type
from ..ir.verify import VerifyError, verify_module
from ..interp.semantics import signed
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


def run_ir(source: str, path: str, config, stdout, stderr) -> int:
    """Parse, verify and run an IR text file; returns the exit status."""
    try:
        module = parse_module(source, path)
        verify_module(module)
    except IRSyntaxError as error:
        print(str(error), file=stderr)
        return EXIT_BAD_INPUT
    except VerifyError as error:
        print(f"{path}: {error}", file=stderr)
        return EXIT_BAD_INPUT
    if "main" not in module.functions or module.functions["main"].sig.params:
        print(f"{path}: the module needs a @main without parameters", file=stderr)
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
        print(error.message, file=stderr)
        return EXIT_RUNTIME_ERROR
    except VMError as error:
        print(f"{path}: {error}", file=stderr)
        return EXIT_RUNTIME_ERROR
    results = module.functions["main"].sig.results
    if results:
        print(format_value(result, results[0]), file=stdout)
    if config.stats:
        for key, value in vm.stats().items():
            print(f"{key}: {value}", file=stderr)
    return EXIT_OK
