"""Running a Lox source file: compile errors, runtime errors and exit codes as clox does."""
import contextlib
from dataclasses import replace

from ..interp.errors import GuestError
from ..ir.text import print_module
from ..runtime.traps import ClientAPIError
from ..trace import print_stats
from .codegen import compile_program
from .parser import parse_program
from .runtime import GuestExit, LoxRuntime

EXIT_OK, EXIT_COMPILE_ERROR, EXIT_RUNTIME_ERROR = 0, 65, 70
FRAMES_MAX = 64
"""clox's call depth (its FRAMES_MAX, the script's frame included): a Lox program
overflows where clox does unless `--max-frames` says otherwise."""
LIBRARY_PREFIXES = ("lox.native.", "lox.rt.")


def run_lox(source: str, path: str, config, stdout, stderr, stdin=None, after=None,
            before=None, during=None) -> int:
    """Compile and run `source`; returns the process exit status.  `stdin` is the binary
    stream `getc()` reads (standard input's when None); `before(runtime)` is called
    before the program starts (`offramp debug` attaches there), `after(runtime)` once it
    has ended, for tools that look at what it left (`offramp disasm`); `during(runtime)`
    is a context manager entered around the run, for tools that watch it (`offramp
    profile`)."""
    script, errors = parse_program(source)
    if errors:
        for line in errors:
            print(line, file=stderr)
        return EXIT_COMPILE_ERROR
    program = compile_program(script, profile=config.tier != "interp",
                              debug=config.debug or bool(config.breakpoint_stress))
    if config.max_frames is None:
        config = replace(config, max_frames=FRAMES_MAX)
    if config.dump_ir:
        print(print_module(program.module), file=stderr)
    runtime = None
    try:
        runtime = LoxRuntime(program, config, stdout, stderr, stdin)
        if config.breakpoint_stress:
            stress_breakpoints(runtime, config.breakpoint_stress)
        if before is not None:
            before(runtime)
        watching = during(runtime) if during is not None else contextlib.nullcontext()
        with runtime.vm.sigint_interrupts(), watching:
            status = run_threads(runtime, program, stdout, stderr)
    except GuestExit as stop:
        stdout.flush()
        status = stop.status
    except GuestError as error:   # Out of memory. while loading the program included
        report_error(program, error, stdout, stderr)
        status = EXIT_RUNTIME_ERROR
    if config.stats and runtime is not None:
        print_stats({**runtime.vm.stats(), **runtime.stats}, stderr, config.stats_format)
    if after is not None and runtime is not None:
        after(runtime)
    return status


def run_threads(runtime, program, stdout, stderr) -> int:
    """Run the script, then wait for every thread it spawned: the program ends when all
    have.  A runtime error of the script, and of each thread nobody joined, is reported
    (the script's at once, the threads' at the end) and makes the status 70."""
    status = EXIT_OK
    try:
        runtime.run()
    except GuestExit:
        raise
    except GuestError as error:
        report_error(program, error, stdout, stderr)
        status = EXIT_RUNTIME_ERROR
    threads = runtime.vm.threads
    threads.wait_for_all()
    for thread in threads.all:
        if thread.error is not None and not thread.joined:
            if not isinstance(thread.error, GuestError):
                raise thread.error
            report_error(program, thread.error, stdout, stderr)
            status = EXIT_RUNTIME_ERROR
    return status


def report_error(program, error: GuestError, stdout, stderr) -> None:
    """clox's report of a runtime error: the message, then the trace, innermost first
    (the lines of the thread it happened in first, when a join raised it again)."""
    stdout.flush()
    print(error.message, file=stderr)
    for line in stack_trace(program, (error.stack or []) + (error.cause_stack or [])):
        print(line, file=stderr)


def stack_trace(program, stack) -> list:
    """clox's trace lines, innermost first, without the runtime library's own frames (an
    OSR entry clone's frames are its function's)."""
    names = {c.ir_name: c for c in program.codes}
    lines = []
    for version, instr in reversed(stack):
        if version.func.startswith(LIBRARY_PREFIXES):
            continue
        info = names.get(version.func) or names.get(version.func.partition(".osr.")[0])
        where = "script" if info is None or info.kind == "script" else f"{info.name}()"
        lines.append(f"[line {instr.line}] in {where}")
    return lines


def stress_breakpoints(runtime, every: int) -> None:
    """--breakpoint-stress=N: a breakpoint armed on every line with code; at every Nth
    stop, each local of the innermost frame is set to its own value through the frame
    API — in a compiled frame a deferred change, so the frame leaves lazily and its loop
    re-enters native code by OSR: the debugger's rare paths, forced."""
    vm = runtime.vm
    for line in breakpoint_sites(runtime.program.module):
        vm.breakpoints.arm(line)
    stops = [0]

    def reached(thread, line):
        stops[0] += 1
        if stops[0] % every == 0:
            vm.inspect(thread, lambda view: _set_to_themselves(runtime, view.cursor()))
    vm.breakpoints.handler = reached


def _set_to_themselves(runtime, cursor) -> None:
    for name, value in cursor.variables().items():
        held = runtime.source_operand(cursor.guest.frame, name)
        if value is None or held is None or held[1]:
            continue      # optimized out, a constant, or a box (shared memory)
        try:
            cursor.set_value(held[0], value)
        except ClientAPIError:
            return        # another native frame of the thread holds deferred values


def breakpoint_sites(module) -> dict:
    """Line -> the functions (IR names) whose baselines have a breakpoint site there
    (the ids of their BREAKPOINTs)."""
    lines = {}
    for func in module.functions.values():
        for block in func.versions[0].blocks:
            for instr in block.instrs:
                if instr.op == "BREAKPOINT":
                    lines.setdefault(instr.arg("id"), set()).add(func.name)
    return lines
