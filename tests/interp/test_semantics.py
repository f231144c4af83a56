"""Every pure instruction on chosen corner cases: one table, run through the interpreter.

The native tier's tests run the same table (the interpreter is the oracle), so a case
added here checks both tiers.
"""
import math

import pytest

from offramp.interp.compile import HANDLERS
from offramp.ir import tagref
from offramp.ir.builder import ModuleBuilder
from offramp.ir.nodes import Instr, Var
from offramp.ir.ops import OPS, Flag
from offramp.ir.types import DOUBLE, I1, I8, I32, I64, TAGREF64
from offramp.runtime.vm import VM

M64 = 2**64 - 1
MIN64 = 2**63
NAN = math.nan

# (opcode, type operand, operands, expected result); ints are unsigned bit patterns.
CASES = [
    ("ADD", I64, (M64, 1), 0),
    ("ADD", I8, (200, 100), 44),
    ("SUB", I64, (0, 1), M64),
    ("MUL", I32, (2**31, 2), 0),
    ("SDIV", I64, (M64 - 6, 2), M64 - 2),           # -7 / 2 = -3
    ("SDIV", I64, (7, 0), 0),                        # by zero
    ("SDIV", I64, (MIN64, M64), MIN64),              # MIN / -1
    ("SREM", I64, (M64 - 6, 2), M64),                # -7 % 2 = -1
    ("SREM", I64, (7, 0), 7),
    ("UDIV", I64, (7, 2), 3),
    ("UDIV", I64, (7, 0), 0),
    ("UREM", I64, (7, 0), 7),
    ("SHL", I8, (1, 9), 2),                          # amount modulo width
    ("LSHR", I8, (0x80, 7), 1),
    ("ASHR", I8, (0x80, 7), 0xFF),
    ("AND", I64, (0b1100, 0b1010), 0b1000),
    ("OR", I64, (0b1100, 0b1010), 0b1110),
    ("XOR", I64, (0b1100, 0b1010), 0b0110),
    ("FADD", DOUBLE, (0.1, 0.2), 0.1 + 0.2),
    ("FSUB", DOUBLE, (1.0, math.inf), -math.inf),
    ("FMUL", DOUBLE, (1e308, 10.0), math.inf),
    ("FDIV", DOUBLE, (1.0, 0.0), math.inf),
    ("FDIV", DOUBLE, (-1.0, 0.0), -math.inf),
    ("FDIV", DOUBLE, (0.0, 0.0), NAN),
    ("FDIV", DOUBLE, (-NAN, 0.0), -NAN),
    ("FREM", DOUBLE, (-7.5, 2.0), -1.5),
    ("FREM", DOUBLE, (1.0, 0.0), NAN),
    ("FREM", DOUBLE, (math.inf, 2.0), NAN),
    ("EQ", I64, (3, 3), 1),
    ("EQ", TAGREF64, (tagref.NIL, tagref.FALSE), 0),
    ("NE", I64, (3, 4), 1),
    ("SLT", I64, (M64, 0), 1),
    ("SLE", I64, (0, 0), 1),
    ("SGT", I64, (0, M64), 1),
    ("SGE", I64, (M64, 0), 0),
    ("ULT", I64, (M64, 0), 0),
    ("ULE", I64, (5, 5), 1),
    ("UGT", I64, (M64, 0), 1),
    ("UGE", I64, (0, 1), 0),
    ("FOEQ", DOUBLE, (NAN, NAN), 0),
    ("FONE", DOUBLE, (NAN, 1.0), 0),
    ("FONE", DOUBLE, (2.0, 1.0), 1),
    ("FOLT", DOUBLE, (1.0, 2.0), 1),
    ("FOLE", DOUBLE, (NAN, 2.0), 0),
    ("FOGT", DOUBLE, (3.0, 2.0), 1),
    ("FOGE", DOUBLE, (2.0, 2.0), 1),
    ("FUNE", DOUBLE, (NAN, NAN), 1),
    ("FUNO", DOUBLE, (1.0, NAN), 1),
    ("FNEG", DOUBLE, (0.0,), -0.0),
    ("SELECT", I64, (1, 10, 20), 10),
    ("SELECT", I64, (0, 10, 20), 20),
]

CONVERSIONS = [
    ("TRUNC", (I64, I8), 0x1FF, 0xFF),
    ("ZEXT", (I8, I64), 0xFF, 0xFF),
    ("SEXT", (I8, I64), 0xFF, M64),
    ("SITOFP", (I64, DOUBLE), M64, -1.0),
    ("UITOFP", (I8, DOUBLE), 0xFF, 255.0),
    ("FPTOSI", (DOUBLE, I64), -2.7, M64 - 1),
    ("FPTOSI", (DOUBLE, I64), NAN, 0),
    ("FPTOSI", (DOUBLE, I32), 1e20, 2**31 - 1),
    ("FPTOSI", (DOUBLE, I32), -1e20, 2**31),
    ("BITCAST", (DOUBLE, I64), 1.0, 0x3FF0000000000000),
    ("BITCAST", (I64, DOUBLE), 0x3FF0000000000000, 1.0),
]

TAGREF = [
    ("TR64_IS_FP", tagref.from_fp(1.5), 1),
    ("TR64_IS_FP", tagref.NIL, 0),
    ("TR64_IS_REF", tagref.from_ref(0x1000), 1),
    ("TR64_IS_INT", tagref.TRUE, 1),
    ("TR64_TO_FP", tagref.from_fp(-2.5), -2.5),
    ("TR64_TO_REF", tagref.from_ref(0x7FFF_0000_1238), 0x7FFF_0000_1238),
    ("TR64_TO_INT", tagref.from_int(12345), 12345),
    ("TR64_FROM_FP", NAN, tagref.CANONICAL_NAN),
    ("TR64_FROM_FP", -NAN, tagref.CANONICAL_NAN | tagref.SIGN),   # a NaN keeps its sign
    ("TR64_FROM_REF", 0x1000, tagref.from_ref(0x1000)),
    ("TR64_FROM_INT", 3, tagref.TRUE),
]


def run_one(op, operands, arg_types, result_type, type_operand=None):
    """Build `@f(args) -> result = op(args)` and run it in the interpreter."""
    from offramp.ir.types import REF
    mb = ModuleBuilder()
    for name, ty in (("i1", I1), ("i8", I8), ("i32", I32), ("i64", I64), ("dbl", DOUBLE),
                     ("tr", TAGREF64), ("ref", REF)):
        mb.typedef(name, ty)
    sig = mb.funcsig("sig", arg_types, [result_type])
    mb.function("f", sig)
    vb = mb.version("f", "v1")
    names = [f"a{i}" for i in range(len(arg_types))]
    vb.position_at_end(vb.new_block("entry", list(zip(names, arg_types))))
    args = [Var(n) for n in names]
    lead = () if type_operand is None else (type_operand,)
    r = vb.value(op, *lead, *args)
    vb.emit("RET", (r,))
    return VM(mb.module).call("f", list(operands))


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or repr(a) == repr(b)
    return a == b


@pytest.mark.parametrize("op,ty,operands,expected", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_arithmetic_and_comparisons(op, ty, operands, expected):
    row = OPS[op]
    probe = Instr(op, (ty,) + tuple(Var(f"a{i}") for i in range(len(row.syntax) - 1)), ("r",))
    result_ty = row.results(probe, None)[0]
    arg_types = [I1, ty, ty] if op == "SELECT" else [ty] * len(operands)
    assert same(run_one(op, operands, arg_types, result_ty, ty), expected)


@pytest.mark.parametrize("op,types,value,expected", CONVERSIONS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CONVERSIONS)])
def test_conversions(op, types, value, expected):
    assert same(run_one(op, (value,), [types[0]], types[1], types), expected)


@pytest.mark.parametrize("op,value,expected", TAGREF,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(TAGREF)])
def test_tagref64(op, value, expected):
    spec = OPS[op].syntax[0]
    arg_type = spec.expect(None, None)
    result_type = OPS[op].results(None, None)[0]
    assert same(run_one(op, (value,), [arg_type], result_type), expected)


def test_every_instruction_has_an_interpreter_handler():
    assert set(HANDLERS) == set(OPS)


def test_every_pure_instruction_has_a_semantics_case():
    covered = {c[0] for c in CASES} | {c[0] for c in CONVERSIONS} | {c[0] for c in TAGREF}
    pure = {name for name, row in OPS.items() if row.has(Flag.PURE)}
    assert pure <= covered, sorted(pure - covered)
