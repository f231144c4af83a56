"""Inline-cache kinds: the one table saying which runtime helpers native code may cache.

An extern declared `.extern @h <@sig> IC KIND` is a helper whose result, for a heap
instance of a given shape, comes from (or goes to) one slot of the instance's fields: the
native tier compiles each CCALL of it as a patch region (native/inline_cache.py) that starts
by calling the helper through the runtime and is rewritten, on a miss, into shape checks
and slot accesses (or, for `invoke`, shape checks and the address of a call record).  The
interpreter calls the field helpers as for any extern.  The operands are fixed by the kind:
the receiver first, then the name (the address of a cell holding the interned name
string), then the value stored, if any.

`invoke` resolves a method call `receiver.name(...)` with one lookup: its result is the
address of a call record of CALL_RECORD_WORDS words — the closure, the code (a funcref)
and `this` (RECORD_RECEIVER: the receiver itself) — that the caller LOADs and CALLs.  One
answer gives all three, so a thread adding a field to the receiver meanwhile can never
make code and closure come from different lookups.  Its helper returns the three as a
Python tuple, which only native code turns into a record (the interpreter cannot load a
funcref from memory): a version calling it runs only as native code
(`FunctionVersion.native_only`).  Its frame state resumes before the lookup (a deopt after
it runs the lookup again in the interpreter), so no result is handed over (`restarts`).
"""
from dataclasses import dataclass

from . import tagref
from .types import PTR, TAGREF64

CALL_RECORD_WORDS = 3            # closure, code (funcref), this
RECORD_CLOSURE, RECORD_CODE, RECORD_THIS = 0, 8, 16     # byte offsets
RECORD_RECEIVER = tagref.UNDEFINED                      # `this` is the receiver


@dataclass(frozen=True)
class ICKind:
    """One kind of inline cache: the helper signature it applies to and what it does."""

    name: str
    params: tuple
    results: tuple
    doc: str
    restarts: bool = False       # its frame state resumes before it: no result handed over


IC_KINDS = {k.name: k for k in (
    ICKind("get_field", (TAGREF64, PTR), (TAGREF64,),
           "read field NAME of the receiver: shape check, load of its slot"),
    ICKind("set_field", (TAGREF64, PTR, TAGREF64), (),
           "write an existing field NAME of the receiver: shape check, store to its slot"),
    ICKind("invoke", (TAGREF64, PTR), (PTR,),
           "look method NAME up for a call on the receiver: shape check, the address of "
           "the call record of the method the shape's class has", restarts=True),
)}


def ic_signature_error(kind: str, sig) -> str | None:
    """Why an extern of signature `sig` cannot be an inline cache of `kind`, or None."""
    known = IC_KINDS.get(kind)
    if known is None:
        return f"unknown inline-cache kind {kind!r} (known: {', '.join(IC_KINDS)})"
    if tuple(sig.params) != known.params or tuple(sig.results) != known.results:
        return f"inline-cache kind {kind} needs the signature {known.params} -> {known.results}"
    return None
