"""Frame-state sharing: replay from the last valid state.

Between two guards of one block (or of a chain of blocks, each entered only by a plain
BRANCH from the one before) with nothing observable in between — no instruction with
SIDE_EFFECT or MAY_GC other than the guards themselves (pure arithmetic and loads are
fine: nothing writes memory in between) — the first guard's state is a valid state for the
second: deoptimizing at the second guard resumes at the first guard's resume point, and the
interpreter re-executes the effect-free stretch to arrive where the second guard would have
resumed (LuaJIT merges snapshots the same way).  So later guards (and a DEOPT ending the
stretch) may reuse the earlier FrameState object, and the values only their own states kept
alive become dead.  The earlier state's values dominate the later guard: they are defined
before the first guard, in the same block or above it.

Each guard keeps its own reason, so deopt counts by reason are unchanged; what changes is
where the interpreter resumes (and how many frames it rebuilds when the states' depths
differ).  `count_states` is the `--stats` measure: distinct frame states over a version.
The instructions given an earlier guard's state are listed in the result's `replays`, so
that the native tier can count the deopts that replay (`--stats`: "deopt replays").
"""
from dataclasses import replace

from ..ir.ops import Flag
from ..ir.analysis import predecessors
from .rewrite import as_version, copy_version, reachable, states_of

BARRIER = Flag.SIDE_EFFECT | Flag.MAY_GC


def share_states(module, version, new_name: str | None = None):
    """A new version where guards after an effect-free stretch reuse the first one's state.

    A stretch may go on into a block whose only way in is a plain BRANCH from the block
    before (what block merging would join: inlined code leaves many such chains)."""
    version = as_version(module, version)
    out = copy_version(version, new_name)
    preds = predecessors(out)
    at_end = {}     # label -> the state a stretch still running at the block's end uses
    replays = set(version.replays)
    by_label = {b.label: b for b in out.blocks}
    for label in reachable(out):      # reverse postorder: a block's one way in first
        block = by_label[label]
        before = preds[label]
        current = None
        if len(before) == 1 and by_label[before[0]].instrs[-1].op == "BRANCH":
            current = at_end.get(before[0])
        instrs = []
        for instr in block.instrs:
            if instr.op in ("GUARD", "DEOPT"):
                state = instr.arg("state")
                if current is None:
                    current = state if instr.op == "GUARD" else None
                elif state is not current:
                    instr = _with_state(instr, current)
                    replays.add(instr)
            elif instr.opdef.bits & BARRIER._value_:
                current = None
            instrs.append(instr)
        block.instrs = instrs
        at_end[label] = current
    out.replays = frozenset(replays)
    return out


def _with_state(instr, state):
    position = instr.opdef.position("state")
    operands = instr.operands[:position] + (state,) + instr.operands[position + 1:]
    return replace(instr, operands=operands)


def count_states(version) -> int:
    """Distinct frame states in `version`, every parent level counted (by value)."""
    seen = set()
    for state in states_of(version):
        while state is not None and state not in seen:
            seen.add(state)
            state = state.parent
    return len(seen)
