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
TERMINATOR = Flag.TERMINATOR._value_


def fold_constants(module, version, new_name: str | None = None):
    """A new version of `version` with constants folded and branches on them resolved."""
    version = as_version(module, version)
    out = copy_version(version, new_name)
    remove_unreachable(out)
    ctx = value_types(module, out)
    for _ in range(MAX_ROUNDS):
        if not sweep(module, out, ctx):
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


def all_constant(module, instr) -> bool:
    """Whether every single value (VALUE position) an instruction reads is a constant."""
    operands = instr.operands
    for i, kind in READ_POSITIONS[instr.op]:
        if kind is Kind.VALUE and not is_constant(module, operands[i]):
            return False
    return True


def evaluate(module, ctx, instr):
    """The literal a PURE instruction over constants computes, or None."""
    if not instr.opdef.bits & PURE or len(instr.results) != 1 or \
            not all_constant(module, instr):
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


# ---------------------------------------------------------------------------- one sweep

class Folder:
    """Folding during one sweep over a version's blocks in reverse postorder, substituting
    as it goes (the redundancy pass sweeps with one too).

    In reverse postorder every definition is visited before its uses (a definition
    dominates them), so one sweep applies every replacement it finds.  A block's
    parameters are propagated when the sweep reaches it (`enter`): its forward edges come
    from blocks already visited, and any edge's arguments are read through the
    substitution so far.  What a sweep cannot see is an edge that disappeared in it (a
    branch folded, a guard become a deopt) or a back edge whose arguments it replaced after
    visiting the loop header: then a parameter may have one incoming value left, and
    `again` says another sweep is needed.

    Value types (for evaluating an instruction over constants) are computed when first
    needed, or taken from `ctx`."""

    def __init__(self, module, version, order: list, idom: dict, subst=None, ctx=None):
        self.module, self.version, self._ctx = module, version, ctx
        self.subst = subst if subst is not None else Substitution()
        self.again = False
        self.entry = order[0]
        self.idom = idom
        self.live = set(order)
        self.defs = definitions(version)
        self.edges = {label: [] for label in order}
        for block in version.blocks:
            if block.label in self.live:
                for dest in block.instrs[-1].dests():
                    self.edges[dest.label].append(dest)
        self.memo, self.visited = {}, set()

    @property
    def ctx(self):
        if self._ctx is None:
            self._ctx = value_types(self.module, self.version)
        return self._ctx

    def enter(self, block) -> None:
        """Start visiting `block`: propagate its parameters."""
        self.visited.add(block.label)
        if block.label != self.entry and block.params:
            self.propagate_parameters(block)

    def step(self, instr):
        """`instr` with the replacements so far, folded (None: dropped)."""
        return self.fold(self.subst.rewrite(instr, self.memo))

    def leave(self, block, instrs: list) -> None:
        """Finish `block` with `instrs`; note when its edges changed."""
        old_end, end = block.instrs[-1], instrs[-1]
        if end is not old_end:
            old_dests, dests = old_end.dests(), end.dests()
            if [d.label for d in dests] != [d.label for d in old_dests] or any(
                    d.label in self.visited and d.args != old.args
                    for d, old in zip(dests, old_dests)):
                self.again = True
        block.instrs = instrs

    def propagate_parameters(self, block) -> None:
        """Replace the block's parameters that receive one operand on every edge."""
        label = block.label
        for j, (name, _) in enumerate(block.params):
            value = self.single_incoming(name, j, self.edges[label])
            if value is None:
                continue
            if isinstance(value, Var):
                where = self.defs[value.name][0]
                if where == label or where not in self.live or \
                        not strictly_dominates(where, label, self.idom):
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
            if all_constant(module, instr):
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


def sweep(module, version, ctx=None) -> bool:
    """Fold over `version` once, in place; whether another sweep may find more."""
    order = reachable(version)
    _, idom = dominators_in_order(version)
    folder = Folder(module, version, order, idom, ctx=ctx)
    by_label = {b.label: b for b in version.blocks}
    for label in order:
        block = by_label[label]
        folder.enter(block)
        instrs = []
        for instr in block.instrs:
            new = folder.step(instr)
            if new is None:
                continue
            instrs.append(new)
            if new.opdef.bits & TERMINATOR:
                break
        folder.leave(block, instrs)
    return remove_unreachable(version) or folder.again


def _branch(instr, dest: Dest) -> Instr:
    return Instr("BRANCH", (dest,), (), instr.name, instr.line)
