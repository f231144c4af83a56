"""Facts derived from a function version: value types, definitions, loop headers, liveness.

The verifier, the interpreter and the optimizer all need the same facts; they are computed
here once so that no two places disagree about them.
"""
from dataclasses import dataclass

from .nodes import Imm, Sym, Var
from .types import PTR, FuncRefType


@dataclass(slots=True)
class TypeContext:
    """What type rules of the instruction table need: the module, the version, value types."""

    module: object
    version: object
    sig: object
    types: dict   # SSA name -> Type

    def type_of(self, operand, expected=None):
        """The type of an operand; a literal takes the type expected at its position."""
        if isinstance(operand, Var):
            return self.types.get(operand.name)
        if isinstance(operand, Imm):
            return expected
        return symbol_type(self.module, operand.name)


def symbol_type(module, name: str):
    """The type of `@name` used as a value: a constant's type, `ptr` for globals, funcref."""
    if name in module.consts:
        return module.consts[name].type
    if name in module.globals:
        return PTR
    if name in module.functions:
        return FuncRefType(module.functions[name].sig)
    return None


def value_types(module, version) -> TypeContext:
    """Type every SSA name of `version` by walking definitions in block order."""
    func = module.functions[version.func]
    ctx = TypeContext(module, version, func.sig, {})
    for block in version.blocks:
        for name, ty in block.params:
            ctx.types[name] = ty
    for block in version.blocks:
        for instr in block.instrs:
            if instr.results:
                tys = instr.opdef.results(instr, ctx)
                for name, ty in zip(instr.results, tys):
                    ctx.types[name] = ty
    return ctx


def successors(block) -> list:
    """Labels of the blocks a block's terminator may branch to."""
    if not block.instrs:
        return []
    return [d.label for d in block.instrs[-1].dests()]


def loop_headers(version) -> set:
    """Labels targeted by a back edge of a depth-first walk from the entry."""
    by_label = {b.label: b for b in version.blocks}
    headers, on_path, done = set(), set(), set()
    stack = [(version.blocks[0].label, iter(successors(version.blocks[0])))]
    on_path.add(version.blocks[0].label)
    while stack:
        label, succ = stack[-1]
        nxt = next(succ, None)
        if nxt is None:
            stack.pop()
            on_path.discard(label)
            done.add(label)
        elif nxt in on_path:
            headers.add(nxt)
        elif nxt not in done and nxt in by_label:
            on_path.add(nxt)
            stack.append((nxt, iter(successors(by_label[nxt]))))
    return headers


def loop_bodies(version) -> dict:
    """Header label -> labels of its natural loop: the header and every block that reaches
    a back edge's source (a predecessor the header dominates) without passing the header."""
    preds = predecessors(version)
    _, idom = dominators_in_order(version)
    bodies = {}
    for header in loop_headers(version):
        body = {header}
        work = [p for p in preds[header] if dominates(header, p, idom)]
        while work:
            label = work.pop()
            if label not in body:
                body.add(label)
                work.extend(preds[label])
        bodies[header] = body
    return bodies


def predecessors(version) -> dict:
    """Label -> labels of the blocks branching to it (once per block)."""
    preds = {b.label: [] for b in version.blocks}
    for block in version.blocks:
        for s in dict.fromkeys(successors(block)):
            if s in preds:
                preds[s].append(block.label)
    return preds


def dominators_in_order(version) -> tuple:
    """(reverse postorder of the reachable labels, label -> immediate dominator) by Cooper,
    Harvey and Kennedy's iteration; the entry has no immediate dominator."""
    preds = predecessors(version)
    entry = version.blocks[0].label
    order, seen = [], {entry}
    stack = [(entry, iter(successors(version.blocks[0])))]
    by_label = {b.label: b for b in version.blocks}
    while stack:
        label, it = stack[-1]
        for s in it:
            if s not in seen:
                seen.add(s)
                stack.append((s, iter(successors(by_label[s]))))
                break
        else:
            stack.pop()
            order.append(label)
    order.reverse()
    number = {label: i for i, label in enumerate(order)}
    idom = {entry: entry}
    changed = True
    while changed:
        changed = False
        for label in order[1:]:
            done = [p for p in preds[label] if p in idom]
            new = done[0]
            for p in done[1:]:
                new = _intersect(p, new, idom, number)
            if idom.get(label) != new:
                idom[label], changed = new, True
    del idom[entry]
    return order, idom


def reachable_from(version, start: str, stops=()) -> set:
    """Labels reachable from `start`, not going on from a block in `stops` (those reached
    are included)."""
    by_label = {b.label: b for b in version.blocks}
    seen, work = {start}, [start]
    while work:
        label = work.pop()
        if label in stops:
            continue
        for succ in successors(by_label[label]):
            if succ not in seen and succ in by_label:
                seen.add(succ)
                work.append(succ)
    return seen


def dominates(a: str, b: str, idom: dict) -> bool:
    """Whether block `a` dominates block `b` (`idom` from dominators_in_order)."""
    return a == b or strictly_dominates(a, b, idom)


def strictly_dominates(a: str, b: str, idom: dict) -> bool:
    """Whether block `a` strictly dominates block `b` (`idom` from dominators_in_order)."""
    b = idom.get(b)
    while b is not None:
        if b == a:
            return True
        b = idom.get(b)
    return False


def _intersect(a: str, b: str, idom: dict, number: dict) -> str:
    while a != b:
        while number[a] > number[b]:
            a = idom[a]
        while number[b] > number[a]:
            b = idom[b]
    return a


def uses(instr):
    """SSA names an instruction reads."""
    return [o.name for o in instr.value_operands() if isinstance(o, Var)]


def liveness(version) -> dict:
    """Live-in SSA names of every block (names read before being defined, transitively)."""
    by_label = {b.label: b for b in version.blocks}
    gen, kill = {}, {}
    for b in version.blocks:
        g, k = set(), set(name for name, _ in b.params)
        for instr in b.instrs:
            g.update(u for u in uses(instr) if u not in k)
            k.update(instr.results)
        gen[b.label], kill[b.label] = g, k
    live_in = {b.label: set() for b in version.blocks}
    changed = True
    while changed:
        changed = False
        for b in reversed(version.blocks):
            out = set()
            for s in successors(b):
                if s in by_label:
                    out |= live_in[s]
            new = gen[b.label] | (out - kill[b.label])
            if new != live_in[b.label]:
                live_in[b.label], changed = new, True
    return live_in


def waiting_live(version, block_label: str, index: int, live_in=None) -> set:
    """What a frame waiting at instruction `index` (a call or a TRAP) must keep: the names
    live after it, less its results — and for a TRAP its keep-alive variables as well,
    which its handler reads while it waits; so a trap inlined into another function can
    stop as the frames it was inlined from (its waiting state, composed by the inliner)."""
    instr = version.block(block_label).instrs[index]
    live = live_at(version, block_label, index + 1, live_in) - set(instr.results)
    if instr.op == "TRAP":
        live |= {v.name for v in instr.arg("keepalive") if isinstance(v, Var)}
    return live


def live_at(version, block_label: str, index: int, live_in=None) -> set:
    """SSA names live just before instruction `index` of a block (the resume point)."""
    live_in = live_in if live_in is not None else liveness(version)
    block = version.block(block_label)
    live = set()
    for s in successors(block):
        live |= live_in.get(s, set())
    for instr in reversed(block.instrs[index:]):
        live.difference_update(instr.results)
        live.update(uses(instr))
    return live


def live_before_each(version, block_label: str, live_in: dict) -> list:
    """`live_at(version, block_label, i)` for every index i of the block (and its length),
    in one backward walk: what a pass asking at many points of one block wants."""
    block = version.block(block_label)
    live = set()
    for s in successors(block):
        live |= live_in.get(s, set())
    out = [set(live)]
    for instr in reversed(block.instrs):
        live.difference_update(instr.results)
        live.update(uses(instr))
        out.append(set(live))
    out.reverse()
    return out


def is_symbol(operand) -> bool:
    """Whether an operand names a module-level entity."""
    return isinstance(operand, Sym)
