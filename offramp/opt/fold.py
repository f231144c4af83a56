"""Constant folding, branch folding and copy propagation, exact to the interpreter.

What is folded:
- a PURE instruction whose value operands are all literals or `.const`s, when its result is
  an integer, double or tagref64 (types a literal can stand for).  The value is computed by
  the interpreter's own step for that opcode (`interp.compile.HANDLERS`), fed the operands
  exactly as the interpreter would slot them, so tier 0 and the folded code cannot disagree;
- SELECT on a constant condition, or with equal arms, becomes that arm;
- BRANCH2 on a constant condition (or with equal targets) and SWITCH on a constant become
  BRANCH; a GUARD whose condition is a true constant disappears, one whose condition is a
  false constant becomes a DEOPT with the same reason and state, ending its block;
- a block parameter that receives the same operand on every edge from a reachable block
  (ignoring edges passing the parameter to itself) is replaced by that operand, when the
  operand is a literal or a symbol or its definition strictly dominates the block.

Replacements reach every use, frame states included (a state may hold a literal).  A
keep-alive cannot hold a literal, so there the variable stays, and with it its definition:
removing definitions is dead-code elimination's job, never this pass's.  Blocks that become
unreachable are dropped.  Sweeps repeat while the control flow changes.
"""
from ..interp import semantics as sem
from ..interp.compile import HANDLERS
from ..ir.analysis import dominators_in_order, strictly_dominates, value_types
from ..ir.nodes import Dest, Imm, Instr, Sym, Var
from ..ir.ops import READ_POSITIONS, Flag, Kind
from ..ir.types import DoubleType, IntType, TagRef64Type
from .rewrite import (Substitution, as_version, copy_version, definitions,
                      reachable, remove_unreachable)

MAX_ROUNDS = 50
PURE = Flag.PURE._value_


def fold_constants(module, version, new_name: str | None = None):
    """A new version of `version` with constants folded and branches on them resolved."""
    version = as_version(module, version)
    out = copy_version(version, new_name)
    ctx = value_types(module, out)
    remove_unreachable(out)
    for _ in range(MAX_ROUNDS):
        if not _Round(module, out, ctx).run():
            break
    return out


# ---------------------------------------------------------------------------- evaluation

class _ConstantSlots:
    """Stands in for `CompiledVersion` when building one step over constant operands."""

    def __init__(self, module, ctx):
        self.module, self.ctx = module, ctx
        self.regs = []
        self.result_index = None

    def slot(self, operand, expected=None) -> int:
        self.regs.append(constant_value(self.module, operand, expected))
        return len(self.regs) - 1

    def result_slot(self, instr) -> int:
        self.regs.append(None)
        self.result_index = len(self.regs) - 1
        return self.result_index

    def expected(self, instr, spec):
        return spec.expect(instr, self.ctx) if spec.expect else None


def is_constant(module, operand) -> bool:
    """Whether the operand's value is known here: a literal or a `.const`."""
    cls = operand.__class__
    return cls is Imm or (cls is Sym and operand.name in module.consts)


def constant_value(module, operand, expected):
    """The value the interpreter gives a constant operand slotted at type `expected`."""
    if isinstance(operand, Imm):
        return operand.value if expected is None else sem.literal_value(operand.value, expected)
    const = module.consts[operand.name]
    return sem.literal_value(const.value, const.type)


def literal_for(value, ty):
    """The literal denoting `value` at type `ty`, or None when no literal can."""
    if isinstance(ty, (IntType, TagRef64Type)) and isinstance(value, int) \
            and not isinstance(value, bool):
        return Imm(value)
    if isinstance(ty, DoubleType) and isinstance(value, float):
        return Imm(value)
    return None


def evaluate(module, ctx, instr):
    """The literal a PURE instruction over constants computes, or None."""
    if not instr.opdef.bits & PURE or len(instr.results) != 1:
        return None
    operands = instr.operands
    for i, kind in READ_POSITIONS[instr.op]:
        if kind is Kind.VALUE and not is_constant(module, operands[i]):
            return None
    (ty,) = instr.opdef.results(instr, ctx)
    slots = _ConstantSlots(module, ctx)
    try:
        step = HANDLERS[instr.op](slots, instr, 0)
        step(slots.regs)
    except (ArithmeticError, ValueError, TypeError, KeyError):
        return None
    return literal_for(slots.regs[slots.result_index], ty)


def truth(module, operand):
    """Whether a constant condition holds, as the interpreter tests it (raw slot value)."""
    return bool(constant_value(module, operand, None))


# ---------------------------------------------------------------------------- one round

class _Round:
    """One sweep in reverse postorder, substituting as it goes.

    In reverse postorder every definition is visited before its uses (a definition
    dominates them), so one sweep applies every replacement it finds.  A block's
    parameters are propagated when the sweep reaches it: its forward edges come from
    blocks already visited, and any edge's arguments are read through the substitution so
    far.  What a sweep cannot see is an edge that disappeared in it (a branch folded, a
    guard become a deopt, a block unreachable) or a back edge whose arguments it replaced
    after visiting the loop header: then a parameter may have one incoming value left,
    and `run` says another sweep is needed."""

    def __init__(self, module, version, ctx):
        self.module, self.version, self.ctx = module, version, ctx
        self.subst = Substitution()
        self.again = False

    def run(self) -> bool:
        """Sweep once; whether another sweep may find more."""
        version = self.version
        live = reachable(version)
        by_label = {b.label: b for b in version.blocks}
        edges = {label: [] for label in live}
        for label in live:
            for dest in by_label[label].instrs[-1].dests():
                edges[dest.label].append(dest)
        _, idom = dominators_in_order(version)
        defs = definitions(version)
        live_set = set(live)
        memo, visited = {}, set()
        for n, label in enumerate(live):
            block = by_label[label]
            visited.add(label)
            if n and block.params:
                self.propagate_parameters(block, edges[label], defs, live_set, idom)
            instrs = []
            for instr in block.instrs:
                new = self.fold(self.subst.rewrite(instr, memo))
                if new is None:
                    continue
                instrs.append(new)
                if new.opdef.has(Flag.TERMINATOR):
                    break
            old_end, end = block.instrs[-1], instrs[-1]
            if end.op != old_end.op or len(instrs) != len(block.instrs):
                self.again = True
            elif end is not old_end and any(
                    d.label in visited and d.args != old.args
                    for d, old in zip(end.dests(), old_end.dests())):
                self.again = True
            block.instrs = instrs
        self.again |= remove_unreachable(version)
        return self.again

    def propagate_parameters(self, block, dests, defs, live_set, idom):
        """Replace the block's parameters that receive one operand on every edge."""
        label = block.label
        for j, (name, _) in enumerate(block.params):
            value = self.single_incoming(name, j, dests)
            if value is None:
                continue
            if isinstance(value, Var):
                where = defs[value.name][0]
                if where == label or where not in live_set or \
                        not strictly_dominates(where, label, idom):
                    continue
            self.subst[name] = value

    def single_incoming(self, name, j, dests):
        """The one operand every edge passes for parameter j, or None."""
        seen = None
        for dest in dests:
            if j >= len(dest.args):
                return None   # an implicit argument (a watchpoint's trap value)
            arg = self.subst.resolve(dest.args[j])
            if arg == Var(name):
                continue
            if seen is None:
                seen = arg
            elif arg != seen:
                return None
        return seen

    def fold(self, instr):
        """The instruction to keep in place of `instr` (None: drop it)."""
        module, op = self.module, instr.op
        if op == "SELECT":
            cond, a, b = instr.arg("cond"), instr.arg("a"), instr.arg("b")
            if is_constant(module, cond) or a == b:
                choice = a if a == b or truth(module, cond) else b
                self.subst[instr.results[0]] = choice
                return instr
        if instr.opdef.bits & PURE and instr.results and instr.results[0] not in self.subst:
            literal = evaluate(module, self.ctx, instr)
            if literal is not None:
                self.subst[instr.results[0]] = literal
            return instr
        if op == "BRANCH2":
            cond, t, f = instr.arg("cond"), instr.arg("iftrue"), instr.arg("iffalse")
            if t == f or is_constant(module, cond):
                return _branch(instr, t if t == f or truth(module, cond) else f)
        if op == "SWITCH" and is_constant(module, instr.arg("value")):
            ty = instr.arg("type")
            key = constant_value(module, instr.arg("value"), ty)
            mask = (1 << ty.bits) - 1
            target = next((d for k, d in instr.arg("cases") if k & mask == key),
                          instr.arg("default"))
            return _branch(instr, target)
        if op == "GUARD" and is_constant(module, instr.arg("cond")):
            if truth(module, instr.arg("cond")):
                return None
            return Instr("DEOPT", (instr.arg("reason"), instr.arg("state")), (), instr.name,
                         instr.line)
        return instr


def _branch(instr, dest: Dest) -> Instr:
    return Instr("BRANCH", (dest,), (), instr.name, instr.line)
