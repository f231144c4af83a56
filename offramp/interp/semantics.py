"""Value semantics of the IR's operations on Python representations of values.

Integers are held unsigned (two's complement bits); doubles as floats; tagref64, ref and
ptr as ints.  These functions pin down the cases LLVM leaves undefined exactly as
`ir/ops.py` documents them, so that both tiers agree on every input.
"""
import math
import operator

from ..ir import tagref
from ..ir.nodes import Function
from ..ir.types import (DoubleType, FuncRefType, IntType, PtrType, RefType, TagRef64Type)


def signed(value: int, bits: int) -> int:
    """Reinterpret an unsigned `bits`-wide integer as signed."""
    return value - (1 << bits) if value >> (bits - 1) else value


def sdiv(a: int, b: int, bits: int) -> int:
    """Signed division toward zero; by zero gives 0; MIN/-1 wraps to MIN."""
    if b == 0:
        return 0
    sa, sb = signed(a, bits), signed(b, bits)
    q = abs(sa) // abs(sb)
    return (q if (sa < 0) == (sb < 0) else -q) & ((1 << bits) - 1)


def srem(a: int, b: int, bits: int) -> int:
    """Signed remainder with the dividend's sign; by zero gives the dividend."""
    if b == 0:
        return a
    sa, sb = signed(a, bits), signed(b, bits)
    r = abs(sa) % abs(sb)
    return (-r if sa < 0 else r) & ((1 << bits) - 1)


def udiv(a: int, b: int) -> int:
    return 0 if b == 0 else a // b


def urem(a: int, b: int) -> int:
    return a if b == 0 else a % b


# The NaN the machine's invalid operations give (negative on x86-64, as in native code).
DEFAULT_NAN = float("inf") - float("inf")


def machine_fp(op):
    """A double operation with x86-64's SSE rules for NaNs, which clox's and native code's
    arithmetic follow: a NaN operand is the result — the first one when both are (CPython
    may swap the operands of + and *, and so may LLVM) — and an invalid operation
    (inf - inf, 0 * inf, 0 / 0) gives DEFAULT_NAN."""
    def apply(x: float, y: float) -> float:
        if x != x:
            return x
        if y != y:
            return y
        result = op(x, y)
        return DEFAULT_NAN if result != result else result
    apply.__name__ = op.__name__
    return apply


def _divide(a: float, b: float) -> float:
    """IEEE division of non-NaN operands: by zero gives a signed infinity (0/0 a NaN)."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0.0:
            return DEFAULT_NAN
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


fadd = machine_fp(operator.add)
fsub = machine_fp(operator.sub)
fmul = machine_fp(operator.mul)
fdiv = machine_fp(_divide)


def frem(a: float, b: float) -> float:
    """C fmod: NaN for a zero divisor or an infinite dividend."""
    try:
        return math.fmod(a, b)
    except ValueError:
        return math.nan


def fptosi(value: float, bits: int) -> int:
    """Saturating double-to-int; NaN gives 0."""
    if value != value:
        return 0
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if value <= lo:
        return lo & ((1 << bits) - 1)
    if value >= hi:
        return hi
    return int(value) & ((1 << bits) - 1)


def literal_value(value, ty):
    """The Python value a literal denotes at a position of type `ty`."""
    if isinstance(ty, DoubleType):
        return float(value)
    if isinstance(ty, TagRef64Type):
        return tagref.from_fp(value) if isinstance(value, float) else value & (2**64 - 1)
    if isinstance(ty, IntType):
        if isinstance(value, float):
            raise ValueError(f"float literal {value!r} where {ty.text()} is expected")
        return value & ((1 << ty.bits) - 1)
    if isinstance(value, int):
        return value
    raise ValueError(f"literal {value!r} cannot have type {ty}")



def checked_value(ty, value):
    """`value` as the interpreter holds a value of type `ty`; ValueError if it is none (a
    client's value — a trap handler's — must not reach a step ill-typed)."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(ty, DoubleType) and isinstance(value, (int, float)):
        return float(value)
    if isinstance(ty, TagRef64Type) and isinstance(value, float):
        return tagref.from_fp(value)
    if isinstance(ty, FuncRefType):
        if isinstance(value, Function) and value.sig == ty.sig:
            return value
        raise ValueError("not a function of the funcref's signature")
    if not isinstance(value, int):
        raise ValueError(f"not a value of type {ty.text()}")
    if isinstance(ty, IntType):
        if not -(1 << (ty.bits - 1)) <= value < (1 << ty.bits):
            raise ValueError(f"out of the range of {ty.text()}")
        return value & ((1 << ty.bits) - 1)
    if isinstance(ty, RefType):
        if value < 0 or value >= 1 << 48 or value & 7:
            raise ValueError("not a null or aligned heap reference")
        return value
    if isinstance(ty, (PtrType, TagRef64Type)) and 0 <= value < 1 << 64:
        return value
    raise ValueError(f"not a value of type {ty.text()}")
