"""The `offramp` command: parse the command line, build one Config, hand the file to a driver.

    offramp run FILE.lox|FILE.ir [--tier=interp|jit|eager] [--deopt-stress=N] [--gc-stress]
                                 [--handshake-stress=N] [--ic-stress=N]
                                 [--assumption-stress=N] [--breakpoint-stress=N]
                                 [--debuggable]
                                 [--trace=CATS] [--trace-format=text|json]
                                 [--stats] [--stats-format=text|json]
                                 [--max-frames=N] [--dump-ir]
                                 [--unsafe]
    offramp disasm FILE.lox [FUNC] [--tier=jit|eager | --eager] [-o FILE]
    offramp debug FILE.lox [--commands FILE] [the options of run]
    offramp dap
    offramp profile FILE.lox [--tier=jit|eager|interp] [--rate=HZ]
                             [--mode=safepoint|async|compare]
                             [--format=speedscope|collapsed|svg] [-o FILE] [--top=N]
    offramp fuzz [--kind lox|ir] [--seeds A:B] [--modes M,...] [--jobs N] [--out DIR] ...

Exit statuses follow clox (and BSD sysexits): 0 success, 64 bad usage (including asking for
a tier or tool that is not built), 65 compile error, 70 runtime error, 74 unreadable file,
130 interrupted (Ctrl-C).
A Python exception that reaches the command is a bug in offramp: it is reported in one line,
`offramp: internal error: <type>: <message>`, with exit status 70 (EX_SOFTWARE), never as a
traceback; running out of memory is `Out of memory.` (70).  When the reader of the output goes
away (`offramp run x.lox | head -1`) the command stops quietly with status 141, as a
process killed by SIGPIPE would.  Output is UTF-8 whatever the locale: Lox strings are
written as their bytes, as clox writes them.
The drivers (`offramp.lox.driver.run_lox`, `offramp.runtime.ir_runner.run_ir`) are imported
only when a file is run, so this module — and `--help` — work whatever else is built.
"""
import argparse
import contextlib
import gc
import importlib
import os
import sys

from offramp.config import VM_MAX_FRAMES, Config
from offramp.native.stages import COMPILE_STAGES
from offramp.trace import FORMATS, TRACE_EVENTS

EX_USAGE = 64
EX_SOFTWARE = 70  # an internal error (clox's status for runtime errors too)
EX_IOERR = 74  # "could not read file", as clox reports it
EX_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a process killed by SIGPIPE

TIERS = ("interp", "jit", "eager")
NATIVE_TIERS = ("jit", "eager")
NOT_BUILT_TIER = "offramp: the native tier is not built yet; use --tier=interp"


PYTHON_GC_THRESHOLD = 100_000
"""Container allocations between two young-generation scans of CPython's cyclic collector
in the command's process (CPython's default is 700).  The VM's Python objects — IR
instructions, the interpreter's step closures, the optimizer's tables — are long-lived or
freed by reference counting; scanning them every 700 allocations found nothing and cost,
measured on method_call.lox, 77 collections and 11 ms of a 60 ms run.  Older generations keep CPython's ratios, so cycles are still collected."""


class UsageError(Exception):
    """A well-formed command line that cannot be obeyed (unbuilt tier, unknown file kind)."""


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage; offramp, like clox, exits 64 (EX_USAGE)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: error: {message}\n")


def _trace_categories(text: str) -> frozenset:
    """Parse `--trace=gc,tier` into a set of category names, rejecting unknown ones."""
    names = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(names - TRACE_EVENTS.keys())
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown trace categor{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(unknown)} (choose from {', '.join(TRACE_EVENTS)})")
    return names


def _count(minimum: int):
    """An argparse type for an integer option that must be at least `minimum`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    parse.__name__ = f"integer >= {minimum}"
    return parse


def build_parser() -> argparse.ArgumentParser:
    """The whole command line grammar, in one place."""
    parser = _Parser(prog="offramp", description="Run Lox programs and offramp IR "
                     "on a micro VM with an interpreter and a native (LLVM) tier.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", help="run a .lox program or a .ir file")
    run.add_argument("file", metavar="FILE", help="a .lox or .ir file")
    _add_run_options(run)

    debug = commands.add_parser("debug", help="debug a Lox program (gdb-like commands on "
                                "standard input; the options of run)")
    debug.add_argument("file", metavar="FILE.lox")
    debug.add_argument("--commands", metavar="FILE", default=None,
                       help="read the debugger's commands from FILE (default: standard "
                            "input)")
    _add_run_options(debug)

    commands.add_parser("dap", help="a Debug Adapter Protocol server on standard input and "
                        "output (the program and its options come with the launch "
                        "request)")

    disasm = commands.add_parser("disasm", help="run a Lox program, then list the machine "
                                 "code of its compiled units with stack-map sites and patch "
                                 "regions")
    disasm.add_argument("file", metavar="FILE.lox")
    disasm.add_argument("func", metavar="FUNC", nargs="?", default="",
                        help="only units whose function name contains FUNC")
    disasm.add_argument("--tier", choices=NATIVE_TIERS, default="jit",
                        help="jit (default): compile when hot; eager: every function at "
                             "its first call")
    disasm.add_argument("--eager", dest="tier", action="store_const", const="eager",
                        help="the same as --tier=eager")
    disasm.add_argument("-o", "--output", metavar="FILE", default=None,
                        help="write the listing to FILE (default: standard output, after "
                             "the program's own output)")

    commands.add_parser("fuzz", add_help=False, help="run a differential fuzzing campaign "
                        "(offramp fuzz --help; the options of python -m offramp.tools.fuzz)")
    add_profile_parser(commands)
    return parser


def _add_run_options(parser) -> None:
    """The options that say how to run a program (`run`, `debug`)."""
    parser.add_argument("--tier", choices=TIERS, default="jit",
                        help="interp: interpreter only; jit (default): interpret, compile when "
                          "hot; eager: compile every function and loop at once")
    parser.add_argument("--deopt-stress", type=_count(0), default=0, metavar="N",
                        help="every Nth guard, safepoint or call site in native code "
                          "deoptimizes regardless (1: all, 0: off)")
    parser.add_argument("--gc-stress", action="store_true",
                        help="collect at every allocation and at every deopt exit of native code "
                          "(slow; for tests)")
    parser.add_argument("--handshake-stress", type=_count(0), default=0, metavar="N",
                        help="every Nth poll (function entries and loop back-edges, every "
                          "tier) runs an empty handshake, and every Nth allocation a "
                          "stop-the-world collection (0: off)")
    parser.add_argument("--ic-stress", type=_count(0), default=0, metavar="N",
                        help="every Nth inline-cache miss in native code resets every inline "
                          "cache to uninitialized, repatching them all (0: off)")
    parser.add_argument("--assumption-stress", type=_count(0), default=0, metavar="N",
                        help="every Nth runtime entry of native code breaks every assumption "
                          "compiled code holds, invalidating it (0: off)")
    parser.add_argument("--breakpoint-stress", type=_count(0), default=0, metavar="N",
                        help="stop at a breakpoint on every line, every tier; at every Nth "
                             "stop set each variable of the innermost frame to its own "
                             "value through the frame API (compiled frames then leave "
                             "lazily and their loops re-enter native code) (0: off)")
    parser.add_argument("--debuggable", action="store_true",
                        help="compiled code keeps every source variable in scope in its frame "
                          "states, so a debugger or the frame API can read it (without it, "
                          "a variable no later code reads is optimized out)")
    parser.add_argument("--trace", type=_trace_categories, default=frozenset(), metavar="CATS",
                        help=f"comma-separated event categories to print on stderr: "
                          f"{','.join(TRACE_EVENTS)}")
    parser.add_argument("--trace-format", choices=FORMATS, default="text",
                        help="text (default): '[category] message' lines; json: one JSON "
                          "object per event (time, thread, category, message, fields)")
    parser.add_argument("--stats", action="store_true",
                        help="print counts and sizes at exit")
    parser.add_argument("--stats-format", choices=FORMATS, default="text",
                        help="of --stats: text (default): 'name: value' lines; json: one "
                          "JSON object")
    parser.add_argument("--max-frames", type=_count(1), default=None, metavar="N",
                        help=f"guest call depth before 'Stack overflow.' (default: clox's "
                          f"limit for Lox programs, {VM_MAX_FRAMES} for IR)")
    parser.add_argument("--verify-ir", action="store_true",
                        help="verify every optimized version and every pass's result (slow)")
    parser.add_argument("--dump-ir", action="store_true",
                        help="print the IR of every function as it is built")
    parser.add_argument("--fail-compile", choices=COMPILE_STAGES, default="", metavar="STAGE",
                        help=f"make every native compilation fail at STAGE (tests of the "
                          f"fallback to the interpreter): {', '.join(COMPILE_STAGES)}")
    parser.add_argument("--unsafe", action="store_true",
                        help="FILE.ir: run functions marked UNSAFE (they may forge references "
                          "and pointers; nothing checks them)")


PROFILE_SUFFIXES = {".json": "speedscope", ".svg": "svg", ".folded": "collapsed",
                    ".collapsed": "collapsed", ".txt": "collapsed"}
"""The format `offramp profile -o FILE` writes when --format is not given."""


def _rate(text: str) -> float:
    """An argparse type for --rate: samples a second, from 1 to 10000."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 1 <= value <= 10000:
        raise argparse.ArgumentTypeError(f"must be from 1 to 10000 samples a second, "
                                         f"got {text}")
    return value


def add_profile_parser(commands) -> None:
    """`offramp profile`'s options."""
    profile = commands.add_parser("profile", help="run a Lox program under the sampling "
                                  "profiler; write its profile and print the hottest "
                                  "functions")
    profile.add_argument("file", metavar="FILE", help="a .lox file")
    profile.add_argument("--tier", choices=TIERS, default="jit",
                         help="as for run (default jit)")
    profile.add_argument("--rate", type=_rate, default=1000.0, metavar="HZ",
                         help="samples a second of each running thread (default 1000)")
    profile.add_argument("--mode", choices=("safepoint", "async", "compare"),
                         default="safepoint",
                         help="safepoint (default): each thread records its stack at "
                              "its next safepoint (native code's polls record theirs "
                              "without entering the runtime); async: a thread in native "
                              "code is sampled by a SIGPROF handler where it is (return "
                              "addresses mapped through the side tables), other threads at "
                              "a safepoint; compare: both for each native sample, and the "
                              "safepoint bias reported")
    profile.add_argument("--format", choices=("speedscope", "collapsed", "svg"),
                         default=None,
                         help="of -o: speedscope JSON, collapsed stacks (flamegraph.pl) or "
                              "an SVG flame graph (default: from FILE's suffix, .json "
                              "speedscope, .svg svg, .folded/.collapsed/.txt collapsed)")
    profile.add_argument("-o", "--output", metavar="FILE", default=None,
                         help="write the profile to FILE (without it only the table of "
                              "the hottest functions is printed, on stderr)")
    profile.add_argument("--top", type=_count(1), default=10, metavar="N",
                         help="rows of the hottest-functions table (default 10)")


def config_from_args(args: argparse.Namespace) -> Config:
    """Turn the parsed options of `run` into the one Config the VM is built from."""
    config = Config(tier=args.tier, gc_stress=args.gc_stress, deopt_stress=args.deopt_stress,
                    handshake_stress=args.handshake_stress, ic_stress=args.ic_stress,
                    assumption_stress=args.assumption_stress, debuggable=args.debuggable,
                    breakpoint_stress=args.breakpoint_stress,
                    trace=args.trace, trace_format=args.trace_format, stats=args.stats,
                    stats_format=args.stats_format, dump_ir=args.dump_ir,
                    verify_ir=args.verify_ir, fail_compile_stage=args.fail_compile,
                    unsafe=args.unsafe)
    if args.max_frames is not None:
        config.max_frames = args.max_frames
    return config


def native_tier_available() -> bool:
    """Whether the native tier is built: the one place `--tier=jit|eager` is gated.

    A missing `offramp.native.engine` means "not built yet"; any other import failure inside
    it is a bug and is raised, so that a broken engine never passes for an absent one.
    """
    try:
        import offramp.native.engine  # noqa: F401
    except ModuleNotFoundError as error:
        if error.name in ("offramp.native", "offramp.native.engine"):
            return False
        raise
    return True


def read_source(path: str) -> str:
    """The file's text (UTF-8); raises OSError or UnicodeDecodeError."""
    with open(path, "rb") as file:
        return file.read().decode("utf-8")


# File suffix -> (module, function) of the driver that runs such files.  Each driver is
# `run(source: str, path: str, config: Config, stdout, stderr) -> int` (the exit status).
DRIVERS = {
    ".lox": ("offramp.lox.driver", "run_lox"),
    ".ir": ("offramp.runtime.ir_runner", "run_ir"),
}


def _driver_for(path: str):
    """The run function for the file's kind, imported only now so the CLI loads without it."""
    module_name, function_name = DRIVERS[os.path.splitext(path)[1]]
    return getattr(importlib.import_module(module_name), function_name)


def run_command(args: argparse.Namespace) -> int:
    """`offramp run`: check the request, read the file, and let the driver run it."""
    config = config_from_args(args)
    if config.tier != "interp" and not native_tier_available():
        raise UsageError(NOT_BUILT_TIER)
    if os.path.splitext(args.file)[1] not in DRIVERS:
        raise UsageError(f'offramp: cannot run "{args.file}": expected a '
                         f'{" or ".join(DRIVERS)} file')
    source = _source_or_status(args.file)
    if isinstance(source, int):
        return source
    return _driver_for(args.file)(source, args.file, config, sys.stdout, sys.stderr)


def disasm_command(args: argparse.Namespace) -> int:
    """`offramp disasm`: run a Lox program natively, then list its compiled code."""
    source = _lox_source(args, "disasm", "eager")
    if isinstance(source, int):
        return source
    disasm = importlib.import_module("offramp.tools.disasm")
    listing = _output_or_status(args.output, sys.stdout)
    if isinstance(listing, int):
        return listing
    with listing as out:
        return disasm.run_disasm(source, args.file, Config(tier=args.tier), args.func,
                                 sys.stdout, sys.stderr, out)


def _lox_source(args: argparse.Namespace, command: str, tier: str):
    """A tool's Lox program: its text, or the exit status of reporting that it cannot be
    read; UsageError for another kind of file or a native tier that is not built."""
    if tier != "interp" and not native_tier_available():
        raise UsageError(NOT_BUILT_TIER)
    if not args.file.endswith(".lox"):
        raise UsageError(f'offramp {command}: cannot run "{args.file}": expected a .lox file')
    return _source_or_status(args.file)


def debug_command(args: argparse.Namespace) -> int:
    """`offramp debug`: run a Lox program under the command-line debugger."""
    config = config_from_args(args)
    source = _lox_source(args, "debug", config.tier)
    if isinstance(source, int):
        return source
    debug_cli = importlib.import_module("offramp.tools.debug_cli")
    try:
        commands = sys.stdin if args.commands is None else \
            open(args.commands, encoding="utf-8")
    except OSError as error:
        return _unreadable(args.commands, error.strerror or str(error))
    with commands:
        return debug_cli.debug_lox(source, args.file, config, commands, sys.stdout,
                                   sys.stderr, prompt=commands.isatty())


def profile_command(args: argparse.Namespace) -> int:
    """`offramp profile`: run a Lox program under the sampler, then write its profile."""
    if args.mode != "safepoint" and args.tier == "interp":
        raise UsageError(f"offramp profile: --mode={args.mode} samples native code by "
                         f"signal; with --tier=interp there is none (use "
                         f"--mode=safepoint)")
    if args.format is not None and args.output is None:
        raise UsageError("offramp profile: --format says how to write -o FILE; give -o")
    if args.output is not None and args.format is None:
        args.format = PROFILE_SUFFIXES.get(os.path.splitext(args.output)[1], "speedscope")
    source = _lox_source(args, "profile", args.tier)
    if isinstance(source, int):
        return source
    profile = importlib.import_module("offramp.tools.profile")
    written = _output_or_status(args.output, None)
    if isinstance(written, int):
        return written
    with written as out:
        return profile.run_profile(source, args.file, Config(tier=args.tier), args,
                                   sys.stdout, sys.stderr, out)


def _output_or_status(path, default):
    """A context manager giving the file a tool's `-o` names (or `default` without one),
    or the exit status of reporting that it cannot be written (74)."""
    if path is None:
        return contextlib.nullcontext(default)
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as error:
        print(f'offramp: could not write file "{path}": {error.strerror or error}',
              file=sys.stderr)
        return EX_IOERR


def dap_command(args: argparse.Namespace) -> int:
    """`offramp dap`: serve the Debug Adapter Protocol on standard input and output.
    Standard output carries only the protocol: whatever else would be printed there
    goes to standard error while the session lasts."""
    dap = importlib.import_module("offramp.tools.dap")
    protocol, sys.stdout = sys.stdout, sys.stderr
    try:
        return dap.serve_dap(sys.stdin.buffer, protocol.buffer)
    finally:
        sys.stdout = protocol


def _source_or_status(path: str):
    """The file's text, or the exit status of reporting that it cannot be read."""
    try:
        return read_source(path)
    except OSError as error:
        return _unreadable(path, error.strerror or str(error))
    except UnicodeDecodeError as error:
        return _unreadable(path, f"not valid UTF-8 (byte {error.object[error.start]:#04x} "
                                 f"at offset {error.start})")


def _unreadable(path: str, reason: str) -> int:
    """Report a file that cannot be read, the way clox does, and give its exit status."""
    print(f'offramp: could not read file "{path}": {reason}', file=sys.stderr)
    return EX_IOERR


def command() -> None:
    """The `offramp` executable (and `python -m offramp`): the process is the command's,
    so CPython's collector is tuned for it (PYTHON_GC_THRESHOLD) before anything is
    loaded, and never set back (setting it back made the next allocation scan every
    object the run had made: 12 ms at exit)."""
    gc.set_threshold(PYTHON_GC_THRESHOLD, *gc.get_threshold()[1:])
    write_utf8(sys.stdout)
    write_utf8(sys.stderr)
    status = main()
    try:
        sys.stdout.flush()      # now, not at interpreter exit, where a failure is a traceback
    except BrokenPipeError:
        status = _reader_gone()
    sys.exit(status)


def write_utf8(stream) -> None:
    """Make a text stream encode as UTF-8 whatever the locale (under LANG=C, Python may pick
    ASCII and fail on the first non-ASCII character a program prints)."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(encoding="utf-8", errors="surrogatepass")


def fuzz_command(argv) -> int:
    """`offramp fuzz ...`: the campaign of offramp.tools.fuzz, with the same options."""
    campaign = importlib.import_module("offramp.tools.fuzz.campaign")
    try:
        return campaign.main(argv)
    except SystemExit as stop:  # --help (0) or a usage error (64)
        return stop.code if isinstance(stop.code, int) else EX_USAGE


COMMANDS = {"run": run_command, "disasm": disasm_command, "debug": debug_command,
            "profile": profile_command, "dap": dap_command}


def main(argv=None) -> int:
    """Run the `offramp` command line `argv` (default: sys.argv); returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["fuzz"]:
        return fuzz_command(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or a usage error (64)
        return stop.code if isinstance(stop.code, int) else EX_USAGE
    try:
        return COMMANDS[args.command](args)
    except UsageError as error:
        print(error, file=sys.stderr)
        return EX_USAGE
    except KeyboardInterrupt:
        # Ctrl-C: the VM stopped at a poll.  What was printed stays printed; no traceback.
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        return EX_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - the one place no exception gets past
        if caused_by(error, BrokenPipeError):
            return _reader_gone()
        if caused_by(error, MemoryError):
            return _report(error, "Out of memory.")
        return _report(error, f"offramp: internal error: {one_line(error)}")


def caused_by(error: BaseException, kind: type) -> bool:
    """Whether `error`, or an exception it was raised from or while handling, is a `kind`
    (the native tier wraps what a runtime helper raises, a broken pipe included)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, kind):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def one_line(error: BaseException) -> str:
    """`Type: message` of an exception, on one line."""
    message = " ".join(str(error).split())
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _reader_gone() -> int:
    """The reader of our output went away (`offramp run x.lox | head`): stop quietly, as
    cat does, with what was left unwritten sent nowhere."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (e.g. under a test)
        pass
    return EXIT_BROKEN_PIPE


def _report(error: BaseException, line: str) -> int:
    """Flush the program's output, say `line` on stderr, exit EX_SOFTWARE."""
    try:
        sys.stdout.flush()
    except Exception as flush_error:  # noqa: BLE001 - the output may be what failed
        if caused_by(flush_error, BrokenPipeError):
            return _reader_gone()
    print(line, file=sys.stderr)
    return EX_SOFTWARE


if __name__ == "__main__":
    command()
