"""Redundancy elimination: common subexpressions, repeated loads, implied guards.

Inlined code repeats the checks of its callers: `toggle.activate().value()` tests that
`toggle` is a reference and has the expected shape at the call, again at the top of the
inlined `activate`, again before `value`.  This pass removes the repetitions, visiting blocks in
reverse postorder with tables inherited from the immediate dominator:

- a PURE instruction computing what a dominating one computed (same opcode, same operands
  after replacement) is replaced by it;
- a LOAD of the same type, base and offset as an *available* earlier LOAD, or as an earlier
  STORE (its stored value), is replaced by that value.  Availability is killed by writes
  that may alias (`may_alias`) and by everything else with a side effect except GUARD and
  PROFILE: calls, helper calls (unless the helper is PURE), traps, safepoints — a trap
  handler, a debugger or the GC may write memory there.  A block starts with the loads
  available at the end of every predecessor (the same value on each edge); a loop header,
  whose back edge is not known yet when it is visited, starts with none;
- a GUARD whose condition a dominating GUARD already required is removed: past a guard its
  condition holds in every block it dominates.  An OR with such an operand holds too (a
  polymorphic shape test after a monomorphic one), and so does a tag test of a value
  that was just boxed with that tag (ALWAYS_PASSES), and a tagref64 inequality with a
  constant the other side cannot be (a boxed double against a non-double, a SELECT between
  two other constants: Lox's "is this global defined" check after storing a boolean).

Aliasing is decided from what a memory base is.  A reference (the result of TR64_TO_REF)
points to the start of a heap object, a global's symbol to its static cell; heap objects
and static cells never overlap, two different globals never do, and words of objects at
different offsets never do (whatever the objects).  Any other base (a pointer computed by
arithmetic, a block parameter) may alias anything at any offset.  So a field store
(`fields + 8`) leaves the shape word (`obj + 0`) available, and a global's store leaves
every heap load available.

Replacements reach every use, frame states included, so a removed guard's later states
read the value the dominating computation produced — the same value.  Removing what has
become unused is dead-code elimination's job.

The walk folds constants as it goes (`fold.Folder`: block parameters with one incoming
value, instructions over constants, branches and guards on constants), with the same
replacements, so after inlining one walk does what a folding sweep and this pass did one
after the other.  When folding changed the control flow, folding sweeps follow until
nothing changes.
"""
from ..ir.analysis import dominators_in_order, predecessors
from ..ir import tagref
from ..ir.nodes import Sym, Var
from ..ir.types import TagRef64Type
from ..ir.ops import Flag
from .fold import MAX_ROUNDS, Folder, constant_value, is_constant, sweep
from .rewrite import Substitution, as_version, copy_version, remove_unreachable

KILLS_NOTHING = frozenset({"GUARD", "PROFILE"})
TERMINATOR = Flag.TERMINATOR._value_
PURE = Flag.PURE._value_
SIDE_EFFECT = Flag.SIDE_EFFECT._value_
PLAIN_EDGES = frozenset({"BRANCH", "BRANCH2", "SWITCH"})
ALWAYS_PASSES = {"TR64_IS_FP": "TR64_FROM_FP", "TR64_IS_REF": "TR64_FROM_REF",
                 "TR64_IS_INT": "TR64_FROM_INT"}
"""A tag test -> the boxing whose result always passes it."""
SPECIAL_PURE = frozenset({"OR", "NE", "SELECT", *ALWAYS_PASSES})
"""Pure instructions the walk may learn a fact from (or fold) before looking them up."""
OBJECT, STATIC, UNKNOWN = "object", "static", "unknown"


def eliminate_redundancy(module, version, new_name: str | None = None):
    """A new version of `version` without repeated computations, loads and guards."""
    version = as_version(module, version)
    out = copy_version(version, new_name)
    remove_unreachable(out)
    again = _Walk(module, out).run()
    again |= remove_unreachable(out)
    for _ in range(MAX_ROUNDS):
        if not again:
            break
        again = sweep(module, out)
    return out


class _Walk:
    """One walk over a version in reverse postorder, rewriting its blocks in place."""

    def __init__(self, module, version):
        self.module, self.version = module, version
        self.by_label = {b.label: b for b in version.blocks}
        self.preds = predecessors(version)
        self.order, self.idom = dominators_in_order(version)
        self.subst = Substitution()
        self.folder = Folder(module, version, self.order, self.idom, subst=self.subst)
        self.base_kind = {}
        self.boxed = {}      # Var -> the TR64_FROM_* that defined it
        self.origin = {}     # Var -> its defining SELECT or TR64_FROM_FP (for never_equal)

    def run(self) -> bool:
        """Visit blocks in reverse postorder: a block's immediate dominator and its forward
        predecessors are done before it.  Whether folding changed the control flow."""
        self.note_bases()
        done = {}    # label -> (pure, known, loads) at the block's end
        children = {}
        for label in self.order:
            idom = self.idom.get(label)
            children[idom] = children.get(idom, 0) + 1
        for label in self.order:
            block = self.by_label[label]
            idom = self.idom.get(label)
            if idom is None:
                pure, known = {}, set()
            else:
                # The last dominated block to inherit takes the tables themselves.
                children[idom] -= 1
                pure, known = done[idom][0], done[idom][1]
                if children[idom]:
                    pure, known = dict(pure), set(known)
            loads = self.loads_on_entry(label, done)
            self.folder.enter(block)
            self.rewrite(block, pure, known, loads)
            done[label] = (pure, known, loads)
        return self.folder.again

    def loads_on_entry(self, label: str, done: dict) -> dict:
        """Loads available on every edge into the block: none at the entry and where an edge
        is not done yet (a loop's back edge) or ends a WATCHPOINT; else their intersection."""
        preds = self.preds[label]
        if not preds or any(p not in done or self.by_label[p].instrs[-1].op not in PLAIN_EDGES
                            for p in preds):
            return {}
        first, *rest = (done[p][2] for p in preds)
        return {key: value for key, value in first.items()
                if all(other.get(key) == value for other in rest)}

    def rewrite(self, block, pure: dict, known: set, loads: dict) -> None:
        """Rewrite `block`'s instructions given what dominating code computed and checked.

        A repeated guard, load or plain pure computation is recognized by its operands'
        replacements (`key`) and dropped before the walk's replacements are applied to it:
        what goes is never rebuilt (guards carry frame states)."""
        kept = []
        for instr in block.instrs:
            op = instr.op
            key = None
            if op == "GUARD":
                if self.key(instr.operands[0]) in known:
                    continue
            elif op == "LOAD":
                ty, base, offset = instr.operands
                key = (ty, self.key(base), offset)
                if self.replace(instr, loads.get(key)):
                    continue
            elif instr.opdef.bits & PURE and len(instr.results) == 1 and \
                    op not in SPECIAL_PURE:
                key = (op, tuple(self.key(o) for o in instr.operands))
                if self.replace(instr, pure.get(key)):
                    continue
            instr = self.folder.step(instr)
            if instr is None:
                continue
            op, opdef = instr.op, instr.opdef
            if op == "GUARD":
                known.add(self.key(instr.operands[0]))
            elif op == "OR" and any(self.key(o) in known for o in instr.operands[1:]):
                known.add(Var(instr.results[0]))
            elif op in ALWAYS_PASSES and \
                    self.boxed.get(self.key(instr.operands[0])) == ALWAYS_PASSES[op]:
                known.add(Var(instr.results[0]))
            elif op == "NE" and self.never_equal(instr):
                known.add(Var(instr.results[0]))
            elif opdef.bits & PURE and len(instr.results) == 1:
                if key is None:
                    key = (op, tuple(self.key(o) for o in instr.operands))
                    if self.replace(instr, pure.get(key)):
                        continue
                pure[key] = Var(instr.results[0])
            elif op == "LOAD":
                loads[key] = Var(instr.results[0])
            elif op == "STORE":
                ty, base, offset, value = instr.operands
                base = self.key(base)
                for k in [k for k in loads if self.may_alias(k[1], k[2], base, offset)]:
                    del loads[k]
                loads[(ty, base, offset)] = self.key(value)
            elif (opdef.bits & SIDE_EFFECT and op not in KILLS_NOTHING
                  and not self.pure_call(instr)):
                loads.clear()
            kept.append(instr)
            if opdef.bits & TERMINATOR:
                break       # a guard folded into a DEOPT ends the block
        self.folder.leave(block, kept)

    def never_equal(self, instr) -> bool:
        """Whether `NE ty a b` holds because one side is a constant the other side, a
        SELECT between two other constants or a boxed double, can never be."""
        ty, a, b = instr.operands
        for value, other in ((self.key(a), self.key(b)), (self.key(b), self.key(a))):
            if not is_constant(self.module, other) or not isinstance(ty, TagRef64Type):
                continue
            word = constant_value(self.module, other, ty)
            origin = self.origin.get(value)
            if origin is None:
                continue
            if origin.op == "TR64_FROM_FP" and not tagref.is_fp(word):
                return True
            if origin.op == "SELECT":
                arms = origin.operands[2:]
                if all(is_constant(self.module, arm) for arm in arms) and word not in {
                        constant_value(self.module, arm, ty) for arm in arms}:
                    return True
        return False

    def key(self, operand):
        """An operand as a table key: its replacement if it has one (types stay as they are)."""
        return self.subst.resolve(operand) if isinstance(operand, Var) else operand

    def replace(self, instr, earlier) -> bool:
        """Replace `instr`'s one result by `earlier` (when there is one): True if replaced."""
        if earlier is None:
            return False
        self.subst[instr.results[0]] = earlier
        return True

    def pure_call(self, instr) -> bool:
        """A CCALL of a helper declared PURE writes nothing."""
        if instr.op != "CCALL":
            return False
        extern = self.module.externs.get(instr.operands[0])
        return extern is not None and extern.pure

    def kind_of(self, base) -> str:
        """What a memory base points to: a heap object's start, a static cell, or unknown."""
        if isinstance(base, Sym):
            return STATIC if base.name in self.module.globals else UNKNOWN
        if isinstance(base, Var):
            return self.base_kind.get(base.name, UNKNOWN)
        return UNKNOWN

    def may_alias(self, base_a, offset_a: int, base_b, offset_b: int) -> bool:
        """Whether a word at base_a+offset_a and one at base_b+offset_b may overlap."""
        if base_a == base_b:
            return offset_a == offset_b
        kind_a, kind_b = self.kind_of(base_a), self.kind_of(base_b)
        if UNKNOWN in (kind_a, kind_b):
            return True
        if kind_a != kind_b or kind_a == STATIC:
            return False
        return offset_a == offset_b

    def note_bases(self) -> None:
        """Record which variables are object references (results of TR64_TO_REF) and which
        were boxed by a TR64_FROM_*."""
        for block in self.version.blocks:
            for instr in block.instrs:
                if instr.op == "TR64_TO_REF":
                    self.base_kind[instr.results[0]] = OBJECT
                elif instr.op in ALWAYS_PASSES.values():
                    self.boxed[Var(instr.results[0])] = instr.op
                if instr.op in ("SELECT", "TR64_FROM_FP"):
                    self.origin[Var(instr.results[0])] = instr
