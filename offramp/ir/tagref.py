"""tagref64: the one 64-bit word every guest value is, in both tiers (NaN-boxing).

Encoding (the same as clox's NaN-boxing, extended with small tags):
- a double is its own IEEE-754 bits.  NaNs produced by arithmetic are canonicalized to
  CANONICAL_NAN (0x7ff8...) with their sign kept (0xfff8... for a negative NaN, which x86
  division 0/0 gives and clox prints as `-nan`); neither can look like a boxed value;
- a word with all QNAN bits (0x7ffc000000000000) set and the sign clear is a *small
  int* whose payload is the low 50 bits: NIL=1, FALSE=2, TRUE=3, UNDEFINED=4 (an unset
  global or field; never visible to guest code);
- a word with SIGN|QNAN set is a heap reference: the low 48 bits are the address.

Python code holds a tagref64 as a non-negative int below 2**64.  The native tier uses the
same constants, so a transition between tiers never converts a value.
"""
import math
import struct

QNAN = 0x7FFC_0000_0000_0000
SIGN = 0x8000_0000_0000_0000
REF_TAG = SIGN | QNAN
ADDR_MASK = 0x0000_FFFF_FFFF_FFFF
INT_MASK = 0x0003_FFFF_FFFF_FFFF
CANONICAL_NAN = 0x7FF8_0000_0000_0000

NIL = QNAN | 1
FALSE = QNAN | 2
TRUE = QNAN | 3
UNDEFINED = QNAN | 4

_DOUBLE = struct.Struct("<d")
_WORD = struct.Struct("<Q")


def is_fp(word: int) -> bool:
    """A double (any word whose QNAN bits are not all set)."""
    return (word & QNAN) != QNAN


def is_ref(word: int) -> bool:
    """A heap reference."""
    return (word & REF_TAG) == REF_TAG


def is_int(word: int) -> bool:
    """A small tag (nil, booleans, undefined, or another small integer payload)."""
    return (word & REF_TAG) == QNAN


def from_fp(value: float) -> int:
    """Box a double; NaNs become the canonical NaN of their sign."""
    bits = _WORD.unpack(_DOUBLE.pack(value))[0]
    if value != value:
        return CANONICAL_NAN | (bits & SIGN)
    return bits


def to_fp(word: int) -> float:
    """Unbox a double (the caller has checked is_fp)."""
    return _DOUBLE.unpack(_WORD.pack(word))[0]


def from_ref(address: int) -> int:
    """Box a heap address (48 bits)."""
    return REF_TAG | address


def to_ref(word: int) -> int:
    """Unbox a heap address (the caller has checked is_ref)."""
    return word & ADDR_MASK


def from_int(payload: int) -> int:
    """Box a small non-negative integer tag (below 2**50)."""
    return QNAN | (payload & INT_MASK)


def to_int(word: int) -> int:
    """Unbox a small integer tag."""
    return word & INT_MASK


def from_bool(value: bool) -> int:
    """Box a Python truth value as TRUE or FALSE."""
    return TRUE if value else FALSE


def double_bits(value: float) -> int:
    """The raw bits of a double, NaN payload kept (for the `double` IR type in memory)."""
    return _WORD.unpack(_DOUBLE.pack(value))[0]


def bits_double(bits: int) -> float:
    """The double whose raw bits are `bits`."""
    return _DOUBLE.unpack(_WORD.pack(bits))[0]


def describe(word: int) -> str:
    """A human-readable form for dumps and debuggers."""
    if is_ref(word):
        return f"ref 0x{to_ref(word):x}"
    if is_int(word):
        return {NIL: "nil", FALSE: "false", TRUE: "true", UNDEFINED: "undefined"}.get(
            word, f"int {to_int(word)}")
    value = to_fp(word)
    return "nan" if math.isnan(value) else repr(value)
