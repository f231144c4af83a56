"""Hypothesis strategies for random IR modules that the printer can print.

Every instruction passes its table check (`Instr` refuses anything else) and every type used
is named in module.types, but names, values and frame states are random: these modules
exercise the text format, not the verifier.  Types are stored in a random order, so the
printer's ordering of type definitions (dependencies first) is exercised too.
"""
import math

from hypothesis import strategies as st

from offramp.ir.nodes import (Block, ConstDef, Dest, ExternDef, FrameState, Function,
                              FunctionVersion, GlobalDef, Imm, Instr, Module, Sym, Var)
from offramp.ir.ops import OPS, Kind
from offramp.ir.types import (DOUBLE, I1, I8, I16, I32, I64, PTR, REF, TAGREF64, VOID,
                              FuncRefType, FuncSig)

BASE_TYPES = [I1, I8, I16, I32, I64, DOUBLE, REF, PTR, TAGREF64, VOID]
SPECIAL_FLOATS = [math.nan, -0.0, 0.0, math.inf, -math.inf, 1e100, 5e-324, -1.5e-300]

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,6}", fullmatch=True)
ints = st.integers(-(1 << 70), 1 << 70)
floats = st.sampled_from(SPECIAL_FLOATS) | st.floats(allow_nan=True, allow_infinity=True)
literals = ints | floats
values = st.one_of(names.map(Var), names.map(Sym), ints.map(Imm), floats.map(Imm))
value_tuples = st.lists(values, max_size=3).map(tuple)
dests = st.builds(Dest, names, value_tuples)
lines = st.none() | st.integers(0, 10**6)


def frame_states(depth: int = 2):
    """Frame states with up to `depth` parents."""
    parent = st.none() if depth == 0 else st.none() | frame_states(depth - 1)
    return st.builds(FrameState, names, names, names, st.integers(-1, 50),
                     st.lists(st.tuples(names, values), max_size=3).map(tuple), parent)


@st.composite
def type_sets(draw):
    """(value types, signatures): base types, signatures over them, funcrefs, and
    signatures taking funcrefs, so that definitions depend on each other."""
    base = draw(st.lists(st.sampled_from(BASE_TYPES), min_size=1, max_size=6))
    value_types = [t for t in base if t != VOID] or [I64]
    sig = st.builds(FuncSig, st.lists(st.sampled_from(value_types), max_size=3).map(tuple),
                    st.lists(st.sampled_from(value_types), max_size=1).map(tuple))
    sigs = draw(st.lists(sig, min_size=1, max_size=3))
    refs = [FuncRefType(s) for s in draw(st.lists(st.sampled_from(sigs), max_size=2))]
    if refs:
        sigs += draw(st.lists(st.builds(FuncSig, st.lists(st.sampled_from(refs), max_size=2)
                                        .map(tuple), st.just(())), max_size=2))
    return list(dict.fromkeys(base + value_types + refs)), list(dict.fromkeys(sigs))


def operands(kind: Kind, types: list, sigs: list, optional: bool = False):
    """A well-formed operand of `kind`."""
    strategy = {
        Kind.TYPE: st.sampled_from(types),
        Kind.TYPES2: st.tuples(st.sampled_from(types), st.sampled_from(types)),
        Kind.SIG: st.sampled_from(sigs),
        Kind.VALUE: values,
        Kind.VALUES: value_tuples,
        Kind.DEST: dests,
        Kind.CASES: st.lists(st.tuples(ints, dests), max_size=3).map(tuple),
        Kind.EXTERN: names,
        Kind.INT: ints,
        Kind.REASON: st.text(max_size=12),
        Kind.STATE: frame_states(),
        Kind.KEEPALIVE: value_tuples,
        Kind.WORD: st.none(),
    }[kind]
    return st.none() | strategy if optional else strategy


@st.composite
def instructions(draw, types: list, sigs: list, op: str | None = None):
    """One instruction (of opcode `op`, or any) with random operands, results, name, line."""
    opdef = OPS[op] if op is not None else draw(st.sampled_from(sorted(OPS.values(),
                                                                       key=lambda o: o.name)))
    ops = tuple(draw(operands(s.kind, types, sigs, s.optional)) for s in opdef.syntax)
    results = draw(st.lists(names, max_size=2).map(tuple))
    return Instr(opdef.name, ops, results, draw(st.none() | names), draw(lines))


@st.composite
def blocks(draw, types, sigs):
    params = draw(st.lists(st.tuples(names, st.sampled_from(types)), max_size=3))
    return Block(draw(names), params, draw(st.lists(instructions(types, sigs), max_size=6)))


@st.composite
def modules(draw):
    """A random printable module: typedefs, consts, globals, externs, functions."""
    types, sigs = draw(type_sets())
    all_types = types + sigs
    type_names = draw(st.lists(names, min_size=len(all_types), max_size=len(all_types),
                               unique=True))
    module = Module()
    for name, ty in draw(st.permutations(list(zip(type_names, all_types)))):
        module.types[name] = ty
    entity_names = draw(st.lists(names, max_size=10, unique=True))
    cuts = sorted(draw(st.lists(st.integers(0, len(entity_names)), min_size=3, max_size=3)))
    consts, globals_, externs, functions = (entity_names[:cuts[0]],
                                            entity_names[cuts[0]:cuts[1]],
                                            entity_names[cuts[1]:cuts[2]],
                                            entity_names[cuts[2]:])
    for name in consts:
        module.consts[name] = ConstDef(name, draw(st.sampled_from(types)), draw(literals))
    for name in globals_:
        module.globals[name] = GlobalDef(name, draw(st.sampled_from(types)))
    for name in externs:
        module.externs[name] = ExternDef(name, draw(st.sampled_from(sigs)), draw(st.booleans()))
    for name in functions:
        func = Function(name, draw(st.sampled_from(sigs)))
        for version in draw(st.lists(names, max_size=3, unique=True)):
            func.versions.append(FunctionVersion(
                name, version, draw(st.lists(blocks(types, sigs), min_size=1, max_size=3)),
                unsafe=draw(st.booleans())))
        module.functions[name] = func
    return module


def single_instruction_modules(op: str):
    """A module whose one function holds one random instruction of opcode `op`."""
    @st.composite
    def build(draw):
        types, sigs = draw(type_sets())
        module = Module()
        for i, ty in enumerate(types + sigs):
            module.types[f"t{i}"] = ty
        instr = draw(instructions(types, sigs, op))
        module.functions["f"] = Function("f", sigs[0], [
            FunctionVersion("f", "v", [Block("b", [], [instr])])])
        return module
    return build()
