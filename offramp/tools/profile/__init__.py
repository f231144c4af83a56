"""`offramp profile FILE.lox`: a sampling profiler that sees every tier's frames.

The program runs as `offramp run` runs it (its output and exit status are its own) while
a profiler thread samples its threads (sampler.py: at safepoints by handshake, or by
SIGPROF in native code, native.py).  Each sample is the guest stack — interpreted,
native and inlined frames, each with its function, line and tier — read through the
frame walk the debugger uses (runtime/frames.py) or mapped from return addresses through
the side tables.  At the end the profile is written (`-o FILE`, output.py: speedscope
JSON, collapsed stacks or an SVG flame graph) and a short table of the hottest functions
goes to stderr; `--mode=compare` also reports the safepoint bias (bias.py).
"""
import contextlib

from ...lox.driver import run_lox
from . import bias, output
from .sampler import MODES, Sampler

__all__ = ["MODES", "Sampler", "run_profile", "profile_report"]


def run_profile(source: str, path: str, config, options, stdout, stderr, out=None) -> int:
    """Run the Lox program under the sampler; write the profile to `out` (if given) and
    the report to `stderr`.  `options`: rate, mode, format, top.  The program's exit
    status."""
    taken = []

    @contextlib.contextmanager
    def during(runtime):
        sampler = Sampler(runtime.vm, options.rate, options.mode)
        taken.append((sampler, runtime.program.module))
        with sampler:
            yield
    status = run_lox(source, path, config, stdout, stderr, during=during)
    if taken:
        stdout.flush()
        sampler, module = taken[0]
        names = output.Names(module)        # now: with the OSR clones compiled meanwhile
        if out is not None:
            output.write(options.format, sampler.samples, names, path, out)
        for line in profile_report(sampler, names, options.top):
            print(line, file=stderr)
    return status


def profile_report(sampler, names, rows: int) -> list:
    """The terminal report: what was sampled, the hottest functions and, after a
    "compare" run, the safepoint bias."""
    samples = sampler.samples
    hows = {how: sum(1 for s in samples if s.how == how) for how in ("signal", "safepoint")}
    natively = f", {sampler.recorded_natively} of them recorded by native code" \
        if sampler.polls is not None else ""
    lines = [f"offramp profile: {len(samples)} samples ({hows['signal']} by signal in "
             f"native code, {hows['safepoint']} at safepoints{natively}) in "
             f"{sampler.ticks} ticks at {1 / sampler.period:g} Hz, mode {sampler.mode}"]
    lines += output.top_table(samples, names, rows)
    if sampler.mode == "compare":
        lines += bias.report(sampler.pairs, names)
    return lines
