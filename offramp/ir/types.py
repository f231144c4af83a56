"""The IR's types: what a value is, independent of which tier holds it.

| type        | text          | interpreter holds | native holds          | GC traced |
|-------------|---------------|-------------------|-----------------------|-----------|
| IntType(n)  | `int<n>`      | int in [0, 2**n)  | iN                    | no        |
| DoubleType  | `double`      | float             | double (XMM)          | no        |
| RefType     | `ref`         | int address       | i64 address           | yes       |
| PtrType     | `ptr`         | int address       | i64 address           | no        |
| TagRef64    | `tagref64`    | int word          | i64 NaN-boxed word    | if a ref  |
| FuncRefType | `funcref<@s>` | Function          | code address          | no        |
| VoidType    | `void`        | (no value)        | void                  | -         |

Integers are stored unsigned (two's complement bits); signed operations reinterpret them.
"""
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IntType:
    """A fixed-width integer; `int<1>` is the type of comparisons."""

    bits: int

    def __post_init__(self):
        if self.bits not in (1, 8, 16, 32, 64):
            raise ValueError(f"int<{self.bits}>: width must be 1, 8, 16, 32 or 64")

    def text(self) -> str:
        return f"int<{self.bits}>"


@dataclass(frozen=True, slots=True)
class DoubleType:
    """An IEEE-754 binary64."""

    def text(self) -> str:
        return "double"


@dataclass(frozen=True, slots=True)
class RefType:
    """The untagged address of a heap object; a GC root wherever it is live."""

    def text(self) -> str:
        return "ref"


@dataclass(frozen=True, slots=True)
class PtrType:
    """A raw address outside the collected heap (globals, static memory); never traced."""

    def text(self) -> str:
        return "ptr"


@dataclass(frozen=True, slots=True)
class TagRef64Type:
    """A NaN-boxed guest value (see ir/tagref.py); traced when it holds a reference."""

    def text(self) -> str:
        return "tagref64"


@dataclass(frozen=True, slots=True)
class VoidType:
    """The result of nothing; only in signatures."""

    def text(self) -> str:
        return "void"


@dataclass(frozen=True, slots=True)
class FuncSig:
    """A function signature: parameter types and at most one result type."""

    params: tuple
    results: tuple

    def __post_init__(self):
        if len(self.results) > 1:
            raise ValueError("a signature has at most one result")


@dataclass(frozen=True, slots=True)
class FuncRefType:
    """A reference to a function (any version) of signature `sig`."""

    sig: FuncSig

    def text(self) -> str:
        return "funcref"


I1 = IntType(1)
I8 = IntType(8)
I16 = IntType(16)
I32 = IntType(32)
I64 = IntType(64)
DOUBLE = DoubleType()
REF = RefType()
PTR = PtrType()
TAGREF64 = TagRef64Type()
VOID = VoidType()

Type = IntType | DoubleType | RefType | PtrType | TagRef64Type | VoidType | FuncRefType


def is_traced(ty) -> bool:
    """Whether a value of this type can hold a heap reference the GC must see."""
    return isinstance(ty, (RefType, TagRef64Type))


def is_int(ty) -> bool:
    """Whether this is an integer type."""
    return isinstance(ty, IntType)


def byte_width(ty) -> int:
    """How many bytes a value of this type takes in memory (int<1> takes a byte)."""
    if isinstance(ty, IntType):
        return max(1, ty.bits // 8)
    return 8


def is_plain_data(ty) -> bool:
    """Whether any bits make a valid value of this type (int<n>, double): reading memory as
    it forges nothing."""
    return isinstance(ty, (IntType, DoubleType))


def int_mask(ty) -> int:
    """The mask that wraps an integer result to the type's width."""
    return (1 << ty.bits) - 1
