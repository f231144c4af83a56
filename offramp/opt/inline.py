"""Inlining with frame-state composition.

`inline_calls` replaces a `CALL <@sig> @g (args) [state]` by the body of g's current
version.  The call's block is split in two: the head ends by branching to g's (renamed)
entry with the arguments, and a continuation block, whose parameter is the call's result
(under the call's own result name, so nothing after the call changes), receives every
`RET (v)` of the body as `BRANCH %cont(v)`.

The call's frame state is the caller's abstract frame *waiting* at that call.  Each frame
state inside the inlined body describes g's frames, so it gets that state as its outermost
parent: deoptimizing inside the body rebuilds g's frame(s) and, under them, the caller's
frame waiting for g's result — compose(state_in_g, state_of_call).  Because the parent is
attached to the outermost level, a state of a call *inside* g that is later inlined too
keeps composing: h inlined into g inlined into f deopts to three frames.  Frame-state
values are operands of the version holding the state, so they are renamed with the body;
the call's own state is already in the caller's names.

Only calls that carry a state are inlined (without one there is no caller frame to rebuild).
A function is never inlined into itself, directly or through the chain of inlined callers,
and `max_depth` / `max_growth` bound nesting and the number of instructions added.
Instructions keep their own source lines and names; those without a line (the runtime
library's IR) take the line of the call they were inlined for.
"""

from ..ir.nodes import Block, Dest, FrameState, Imm, Instr, Sym, Var
from ..ir.ops import Kind
from .rewrite import NameSupply, as_version, copy_version, map_operands, read_plan

DEFAULT_MAX_DEPTH = 4
DEFAULT_MAX_GROWTH = 2000


def always(call, callee_version) -> bool:
    """The default policy: inline whatever the budget allows."""
    return True


def compose(state: FrameState, outer: FrameState) -> FrameState:
    """`state` with `outer` attached below its outermost frame (the caller waiting)."""
    parent = outer if state.parent is None else compose(state.parent, outer)
    return FrameState(state.func, state.version, state.block, state.index, state.values,
                      parent)


def inline_calls(module, version, new_name: str, should_inline=always, *,
                 max_depth: int = DEFAULT_MAX_DEPTH,
                 max_growth: int = DEFAULT_MAX_GROWTH, callee_version=None):
    """A new version of `version` with the calls `should_inline(call, callee)` accepts inlined.

    `callee_version(function_name)` says which version of a callee a call would run (None:
    not inlinable); by default, the function's current version.  A client passes versions
    made for inlining only — speculated for this compilation, never installed."""
    version = as_version(module, version)
    out = copy_version(version, new_name)
    inliner = _Inliner(module, out, should_inline, max_depth, max_growth,
                       callee_version or current_version(module))
    inliner.run()
    return out


def called_function(module, instr) -> str | None:
    """The name of the function a stateful `CALL @g` calls, else None."""
    if instr.op != "CALL" or instr.arg("state") is None:
        return None
    callee = instr.arg("callee")
    if not isinstance(callee, Sym) or callee.name not in module.functions:
        return None
    return callee.name


def literal_free_reads(version) -> set:
    """Names `version` reads in positions that cannot hold a literal."""
    names = set()
    for block in version.blocks:
        for instr in block.instrs:
            for i, kind, literal_ok in read_plan(instr.op):
                if literal_ok or kind not in (Kind.VALUE, Kind.VALUES, Kind.KEEPALIVE):
                    continue
                operand = instr.operands[i]
                for o in (operand,) if kind is Kind.VALUE else operand:
                    if o.__class__ is Var:
                        names.add(o.name)
    return names


def current_version(module):
    """The default `callee_version`: a function's current version."""
    def version_of(name: str):
        func = module.functions[name]
        return func.versions[-1] if func.versions else None
    return version_of


class _Inliner:
    """Walks the blocks in order, expanding calls; inlined blocks are walked in turn."""

    def __init__(self, module, version, should_inline, max_depth, max_growth, callee_version):
        self.module, self.version = module, version
        self.callee_version = callee_version
        self.should_inline = should_inline
        self.max_depth, self.budget = max_depth, max_growth
        self.names = NameSupply(version)
        self.chains = {id(b): () for b in version.blocks}   # functions inlined to get here
        self.count = 0
        self.literal_free = {}    # id(callee version) -> literal_free_reads of it

    def run(self):
        blocks = self.version.blocks
        i = 0
        while i < len(blocks):
            block = blocks[i]
            chain = self.chains[id(block)]
            for k, instr in enumerate(block.instrs):
                callee = self.candidate(instr, chain)
                if callee is not None:
                    blocks[i:i + 1] = self.expand(block, k, instr, callee, chain)
                    break
            i += 1

    def candidate(self, instr, chain):
        name = called_function(self.module, instr)
        callee = None if name is None else self.callee_version(name)
        if callee is None or callee.func == self.version.func or callee.func in chain:
            return None
        if len(chain) >= self.max_depth:
            return None
        size = sum(len(b.instrs) for b in callee.blocks)
        if size > self.budget or not self.should_inline(instr, callee):
            return None
        self.budget -= size
        return callee

    def expand(self, block, k, call, callee, chain):
        """[head, renamed body blocks..., continuation] replacing `block`."""
        self.count += 1
        self.version.unsafe |= callee.unsafe   # its unsafe operations come along
        prefix = f"{callee.func}.{self.count}."
        rename = {}

        def name(old):
            if old not in rename:
                rename[old] = self.names.fresh(prefix + old)
            return rename[old]

        labels = {b.label: self.names.fresh(prefix + b.label) for b in callee.blocks}
        sig = call.arg("sig")
        results = call.results or tuple(self.names.fresh(prefix + "result") for _ in sig.results)
        # Not `{block.label}.after...`: a block split at each of many calls would get a
        # label as long as all of them (LLVM refuses names over 1024 characters).
        base = block.label.split(".after.")[0]
        cont = Block(self.names.fresh(f"{base}.after.{callee.func}"),
                     list(zip(results, sig.results)), block.instrs[k + 1:])
        entry_block = callee.blocks[0]
        entry = labels[entry_block.label]
        bound = self.bound_arguments(callee, call.arg("args"))
        passed = tuple(a for (p, _), a in zip(entry_block.params, call.arg("args"))
                       if p not in bound)
        head = Block(block.label, block.params,
                     block.instrs[:k] + [Instr("BRANCH", (Dest(entry, passed),),
                                              (), None, call.line)])
        outer = call.arg("state")
        states = {}

        def value(operand, literal_allowed):
            if operand.__class__ is not Var:
                return operand
            return bound.get(operand.name) or Var(name(operand.name))

        def state(s):
            key = id(s)
            if key not in states:
                renamed = FrameState(s.func, s.version, s.block, s.index,
                                     tuple((n, value(v, True)) for n, v in s.values),
                                     None if s.parent is None else state(s.parent))
                states[key] = (s, renamed)
            return states[key][1]

        composed_states = {}

        def composed(s):
            """The callee state renamed, the call's state below it: once per state, so
            instructions that shared a state still share one (later passes rewrite
            shared states once)."""
            key = id(s)
            if key not in composed_states:
                composed_states[key] = (s, compose(state(s), outer))
            return composed_states[key][1]

        body = []
        for b in callee.blocks:
            instrs = []
            for instr in b.instrs:
                if instr.op == "RET":
                    values = tuple(value(v, True) for v in instr.arg("values"))
                    instrs.append(Instr("BRANCH", (Dest(cont.label, values),), (), instr.name,
                                        instr.line))
                    continue
                mapped = map_operands(
                    instr, value, label=labels.__getitem__, state_fn=composed,
                    results=tuple(name(r) for r in instr.results) if instr.results else None)
                if mapped.line is None and call.line is not None:
                    mapped = mapped.at_line(call.line)     # library code has no lines
                instrs.append(mapped)
            body.append(Block(labels[b.label],
                              [(name(n), t) for n, t in b.params if n not in bound], instrs))
        self.chains[id(head)] = chain
        self.chains[id(cont)] = chain
        for b in body:
            self.chains[id(b)] = chain + (callee.func,)
        return [head, *body, cont]

    def bound_arguments(self, callee, args) -> dict:
        """Entry parameter -> the call's argument, for the arguments the body can read
        directly instead of through a parameter: when nothing branches back to the
        callee's entry (its parameters have one value), unless the argument is a literal
        and the parameter is read where a literal cannot stand (a keep-alive, a memory
        base)."""
        entry = callee.blocks[0]
        if any(d.label == entry.label for b in callee.blocks for d in b.instrs[-1].dests()):
            return {}
        key = id(callee)
        if key not in self.literal_free:
            self.literal_free[key] = literal_free_reads(callee)
        no_literal = self.literal_free[key]
        return {p: a for (p, _), a in zip(entry.params, args)
                if a.__class__ is not Imm or p not in no_literal}
