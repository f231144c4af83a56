"""What every pass needs: copying versions, substituting operands, control-flow facts.

Passes never mutate their input: versions are referenced by frame states (a deopt rebuilds
frames of *that* version), so each pass starts from `copy_version` and edits the copy.
Instructions and frame states are frozen; rewriting one means building a new one, which
`map_operands` does position by position from the instruction table, so no pass needs to
know which opcode keeps its values where.

A literal may not stand everywhere a variable may: keep-alives hold variables only (a trap
handler reads them from the frame) and positions of unknown type (PROFILE's value, memory
bases) cannot type a literal.  `map_operands` tells its callback which positions take one.
"""

from ..ir.nodes import Block, Dest, FrameState, Function, FunctionVersion, Imm, Instr, Var
from ..ir.ops import OPS, READ_POSITIONS, Kind, any_type, base_type


def as_version(module, version_or_function) -> FunctionVersion:
    """A pass's subject: a FunctionVersion as given, or a Function's current version."""
    if isinstance(version_or_function, Function):
        return version_or_function.current
    if isinstance(version_or_function, str):
        return module.functions[version_or_function].current
    return version_or_function


def copy_version(version: FunctionVersion, name: str | None = None) -> FunctionVersion:
    """A new version with fresh Block objects (instructions are frozen, so shared)."""
    blocks = [Block(b.label, list(b.params), list(b.instrs)) for b in version.blocks]
    return FunctionVersion(version.func, name if name is not None else version.name, blocks,
                           unsafe=version.unsafe, replays=version.replays)


# ---------------------------------------------------------------------------- operands

def literal_ok(spec) -> bool:
    """Whether a VALUE/VALUES position of this spec may hold a literal."""
    return spec.kind is not Kind.KEEPALIVE and spec.expect not in (any_type, base_type)


def map_state(state: FrameState | None, fn, memo: dict | None = None):
    """The state with every value (at every depth) replaced by fn(operand, True)."""
    if state is None:
        return None
    memo = {} if memo is None else memo
    key = id(state)
    if key in memo:
        return memo[key][1]
    values = tuple((name, fn(v, True)) for name, v in state.values)
    parent = map_state(state.parent, fn, memo)
    if values == state.values and parent is state.parent:
        out = state
    else:
        out = FrameState(state.func, state.version, state.block, state.index, values, parent)
    memo[key] = (state, out)   # keep `state` alive so its id is not reused
    return out


def map_dest(dest: Dest, fn) -> Dest:
    args = tuple(fn(a, True) for a in dest.args)
    return dest if args == dest.args else Dest(dest.label, args)


def map_operands(instr: Instr, fn, *, label=None, state_fn=None, memo=None,
                 results: tuple | None = None) -> Instr:
    """`instr` with each value operand v replaced by fn(v, literal_ok).

    `label(l)` renames branch targets; `state_fn(state)` replaces frame states whole
    (by default their values go through `fn`); `results`, when given, rename the results.
    """
    operands = instr.operands
    out = None
    for i, kind, ok in read_plan(instr.op):
        operand = operands[i]
        if kind is Kind.VALUE:
            new = fn(operand, ok)
        elif kind is Kind.VALUES or kind is Kind.KEEPALIVE:
            new = tuple(fn(v, ok) for v in operand)
        elif kind is Kind.DEST:
            new = _target(map_dest(operand, fn), label)
        elif kind is Kind.CASES:
            new = tuple((k, _target(map_dest(d, fn), label)) for k, d in operand)
        elif operand is None:
            continue
        else:
            new = state_fn(operand) if state_fn else map_state(operand, fn, memo)
        if new is not operand and new != operand:
            if out is None:
                out = list(operands)
            out[i] = new
    if results is not None:
        return instr.renamed(None if out is None else tuple(out), results)
    return instr if out is None else instr.renamed(operands=tuple(out))


_READ_PLANS = {}


def read_plan(op: str) -> tuple:
    """(index, kind, literal_ok) of each position of `op` that reads values (from the
    table, once per opcode)."""
    plan = _READ_PLANS.get(op)
    if plan is None:
        syntax = OPS[op].syntax
        plan = _READ_PLANS[op] = tuple((i, kind, literal_ok(syntax[i]))
                                       for i, kind in READ_POSITIONS[op])
    return plan


def _target(dest: Dest, label) -> Dest:
    return dest if label is None else Dest(label(dest.label), dest.args)


class Substitution:
    """Replacements of SSA names by operands, resolved transitively when applied."""

    def __init__(self):
        self.map = {}

    def __setitem__(self, name: str, operand) -> None:
        self.map[name] = operand

    def __contains__(self, name: str) -> bool:
        return name in self.map

    def resolve(self, operand):
        """What `operand` stands for after every replacement."""
        seen = 0
        while isinstance(operand, Var) and operand.name in self.map:
            operand = self.map[operand.name]
            seen += 1
            if seen > len(self.map):
                raise ValueError(f"cyclic substitution through %{operand.name}")
        return operand

    def __call__(self, operand, literal_allowed: bool):
        """The callback for `map_operands`: a literal only where the position takes one."""
        if not isinstance(operand, Var):
            return operand
        new = self.resolve(operand)
        if isinstance(new, Imm) and not literal_allowed:
            # Keep the variable, or the last variable in the chain (it stays defined).
            last, probe = operand, operand
            while isinstance(probe, Var) and probe.name in self.map:
                last, probe = probe, self.map[probe.name]
            return last
        return new

    def touches(self, instr: Instr) -> bool:
        """Whether `instr` reads a replaced variable (else rewriting it changes nothing)."""
        replaced = self.map
        if replaced:
            for o in instr.value_operands():
                if o.__class__ is Var and o.name in replaced:
                    return True
        return False

    def rewrite(self, instr: Instr, memo: dict) -> Instr:
        """`instr` with every replacement applied (itself when it reads none)."""
        return map_operands(instr, self, memo=memo) if self.touches(instr) else instr

    def apply(self, version: FunctionVersion) -> None:
        """Rewrite every instruction of `version` (in place: `version` is a pass's copy)."""
        if not self.map:
            return
        memo = {}
        for block in version.blocks:
            block.instrs = [self.rewrite(i, memo) for i in block.instrs]


# ---------------------------------------------------------------------------- names

class NameSupply:
    """Fresh SSA names and labels for a version (one namespace, to keep dumps readable)."""

    def __init__(self, version: FunctionVersion | None = None):
        self.used = set()
        self.next = {}      # base -> the first N worth trying for `base.N`
        if version is not None:
            self.claim_version(version)

    def claim_version(self, version: FunctionVersion) -> None:
        for block in version.blocks:
            self.used.add(block.label)
            self.used.update(name for name, _ in block.params)
            for instr in block.instrs:
                self.used.update(instr.results)

    def fresh(self, base: str) -> str:
        """`base`, or `base.N` for the first N that is not taken."""
        n = self.next.get(base, 0)
        name = f"{base}.{n}" if n else base
        while name in self.used:
            n += 1
            name = f"{base}.{n}"
        self.next[base] = n + 1
        self.used.add(name)
        return name


# ---------------------------------------------------------------------------- control flow

def successors(block: Block) -> list:
    return [d.label for d in block.instrs[-1].dests()] if block.instrs else []


def reachable(version: FunctionVersion) -> list:
    """Labels reachable from the entry, in reverse postorder (definitions before uses)."""
    by_label = {b.label: b for b in version.blocks}
    entry = version.blocks[0].label
    post, seen = [], {entry}
    stack = [(entry, iter(successors(by_label[entry])))]
    while stack:
        label, it = stack[-1]
        nxt = next(it, None)
        if nxt is None:
            stack.pop()
            post.append(label)
        elif nxt not in seen and nxt in by_label:
            seen.add(nxt)
            stack.append((nxt, iter(successors(by_label[nxt]))))
    return post[::-1]


def remove_unreachable(version: FunctionVersion) -> bool:
    """Drop the blocks the entry cannot reach; whether any were dropped."""
    live = set(reachable(version))
    before = len(version.blocks)
    version.blocks = [b for b in version.blocks if b.label in live]
    return len(version.blocks) != before


def incoming(version: FunctionVersion) -> dict:
    """Label -> every Dest (one per edge) that targets it from any block."""
    edges = {b.label: [] for b in version.blocks}
    for block in version.blocks:
        if block.instrs:
            for dest in block.instrs[-1].dests():
                edges.setdefault(dest.label, []).append(dest)
    return edges


def definitions(version: FunctionVersion) -> dict:
    """SSA name -> (block label, index), index -1 for a block parameter."""
    defs = {}
    for block in version.blocks:
        for name, _ in block.params:
            defs[name] = (block.label, -1)
        for i, instr in enumerate(block.instrs):
            for r in instr.results:
                defs[r] = (block.label, i)
    return defs


def states_of(version: FunctionVersion):
    """Every frame state held by an instruction of `version` (outermost objects)."""
    for block in version.blocks:
        for instr in block.instrs:
            state = instr.state()
            if state is not None:
                yield state
