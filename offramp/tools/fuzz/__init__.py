"""Differential fuzzing of the VM: the interpreter is the oracle, native code must agree.

The model: a generator turns a seed into a program (deterministic: a seed always gives the
same program) that terminates, gets hot — its loops and functions pass the compile
thresholds — and then changes what its hot code sees (types, shapes, call targets, global
values), so that native code speculates and must deoptimize.  The program runs in the
oracle mode (`--tier=interp`) and in every native mode (jit, eager, deopt stress, GC
stress); any difference in stdout, stderr or exit status — or a crash, a timeout, a Python
traceback, an LLVM error — is a finding.  A finding is shrunk by delta debugging over the
program's structure while its signature (mode and kind of difference) stays the same, and
the small program is written out with a report.

    lox_gen.py    random Lox programs (as trees, tree.py) and their text
    ir_gen.py     random IR modules (written separately; optional here)
    campaign.py   the kind table, the modes, running and comparing, the command's main
    shrink.py     delta debugging over trees (or lines, for text-only programs)

Run it as `python -m offramp.tools.fuzz --kind lox --seeds 0:100 --out DIR` or
`offramp fuzz ...` (the same options).
"""
