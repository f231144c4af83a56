"""Dead-code elimination that respects frame states and keep-alives.

A value is *used* when a kept instruction reads it anywhere: as an operand, in a KEEPALIVE
clause (a trap handler reads it) or in a frame state at any depth (a deopt rebuilds a frame
with it) — `Instr.value_operands` yields all of these.  A value that only a frame state
needs therefore stays, and so does everything it is computed from.

Removable: instructions whose kind has none of SIDE_EFFECT, TERMINATOR, GUARD, MAY_DEOPT,
SAFEPOINT, MAY_GC, CALL, TRAP — the PURE ones and LOADs (READS_MEMORY only) — when none of
their results is used.  Liveness is computed by marking from the kept instructions, so dead
cycles through block parameters go too: a branch argument is used only when the parameter
it binds is.  Block parameters of non-entry blocks that are not used are removed together
with the matching argument of every branch to them (a watchpoint's implicit trailing
trap-value parameter is never touched).

The pass also drops unreachable blocks and merges a block into its only predecessor when
that predecessor ends in a plain BRANCH to it (parameters bound to variables are renamed;
a block whose parameter would need a literal in a keep-alive is left alone).
"""
from dataclasses import replace

from ..ir.nodes import Dest, Var
from ..ir.ops import READ_POSITIONS, Flag, Kind
from .rewrite import (Substitution, as_version, copy_version, incoming, remove_unreachable)

KEEP = (Flag.SIDE_EFFECT | Flag.TERMINATOR | Flag.GUARD | Flag.MAY_DEOPT | Flag.SAFEPOINT
        | Flag.MAY_GC | Flag.CALL | Flag.TRAP)


def removable(instr) -> bool:
    """Whether the instruction may go when its results are unused."""
    return (instr.opdef.bits & KEEP._value_) == 0


def eliminate_dead_code(module, version, new_name: str | None = None):
    """A new version of `version` without dead instructions, parameters and blocks."""
    version = as_version(module, version)
    out = copy_version(version, new_name)
    remove_unreachable(out)
    live = _live_names(out)
    _sweep(out, live)
    merge_blocks(out)
    return out


def _non_branch_uses(instr, states_seen: set) -> list:
    """Names read other than as branch arguments (those count only through parameters).
    A frame state whose id is in `states_seen` was counted already (many guards share
    one); the ids of states read here are added."""
    names = []
    operands = instr.operands
    for i, kind in READ_POSITIONS[instr.op]:
        operand = operands[i]
        if kind is Kind.VALUE:
            if operand.__class__ is Var:
                names.append(operand.name)
        elif kind is Kind.VALUES or kind is Kind.KEEPALIVE:
            names.extend(o.name for o in operand if o.__class__ is Var)
        elif kind is Kind.STATE and operand is not None and id(operand) not in states_seen:
            states_seen.add(id(operand))
            names.extend(o.name for o in operand.operands() if o.__class__ is Var)
    return names


def _live_names(version) -> set:
    """Every SSA name some kept instruction needs, directly or through branches."""
    producers, params = {}, {}
    for block in version.blocks:
        for j, (name, _) in enumerate(block.params):
            params[name] = (block.label, j)
        for instr in block.instrs:
            for r in instr.results:
                producers[r] = instr
    edges = incoming(version)
    live, work = set(), []
    states_seen = set()     # the version's instructions keep their states alive meanwhile

    def need(names):
        for n in names:
            if n not in live:
                live.add(n)
                work.append(n)

    for block in version.blocks:
        for instr in block.instrs:
            if not removable(instr):
                need(_non_branch_uses(instr, states_seen))
    need(name for name, _ in version.blocks[0].params)   # arguments are never removed
    while work:
        name = work.pop()
        if name in producers:
            need(_non_branch_uses(producers[name], states_seen))
        elif name in params:
            label, j = params[name]
            for dest in edges.get(label, ()):
                if j < len(dest.args) and isinstance(dest.args[j], Var):
                    need((dest.args[j].name,))
    return live


def _sweep(version, live: set) -> None:
    """Drop dead instructions and dead parameters (with their branch arguments)."""
    edges = incoming(version)
    drop = {}   # label -> sorted indices of parameters removed
    for block in version.blocks[1:]:
        dead = [j for j, (name, _) in enumerate(block.params) if name not in live
                and all(j < len(d.args) for d in edges.get(block.label, ()))]
        if dead:
            drop[block.label] = dead
            block.params = [p for j, p in enumerate(block.params) if j not in dead]
    for block in version.blocks:
        kept = [i for i in block.instrs
                if not removable(i) or any(r in live for r in i.results)]
        if drop and kept:
            kept[-1] = _drop_args(kept[-1], drop)
        block.instrs = kept


def _drop_args(instr, drop: dict):
    """The terminator without the arguments of removed parameters."""
    def fix(dest):
        dead = drop.get(dest.label)
        if not dead:
            return dest
        return Dest(dest.label, tuple(a for j, a in enumerate(dest.args) if j not in dead))

    out, changed = [], False
    for spec, operand in zip(instr.opdef.syntax, instr.operands):
        if spec.kind is Kind.DEST:
            new = fix(operand)
        elif spec.kind is Kind.CASES:
            new = tuple((k, fix(d)) for k, d in operand)
        else:
            new = operand
        changed |= new is not operand and new != operand
        out.append(new)
    if not changed:
        return instr
    return replace(instr, operands=tuple(out))


def merge_blocks(version) -> bool:
    """Merge each block into its sole predecessor ending in `BRANCH` to it (chains too);
    the parameters' replacements are applied once, at the end."""
    counts = {label: len(dests) for label, dests in incoming(version).items()}
    by_label = {b.label: b for b in version.blocks}
    entry = version.blocks[0].label
    subst, removed = Substitution(), set()
    for block in version.blocks:
        if block.label in removed:
            continue
        while block.instrs[-1].op == "BRANCH":
            dest = block.instrs[-1].arg("dest")
            target = by_label[dest.label]
            if (dest.label == entry or target is block or counts[dest.label] != 1
                    or not all(isinstance(subst.resolve(a), Var) for a in dest.args)):
                break
            for (name, _), arg in zip(target.params, dest.args):
                subst[name] = arg
            block.instrs = block.instrs[:-1] + target.instrs
            removed.add(target.label)
    if not removed:
        return False
    version.blocks = [b for b in version.blocks if b.label not in removed]
    subst.apply(version)
    return True
