"""Inline-cache kinds: the one table saying which runtime helpers native code may cache.

An extern declared `.extern @h <@sig> IC KIND` is a helper whose result, for a heap
instance of a given shape, comes from (or goes to) one slot of the instance's fields: the
native tier compiles each CCALL of it as a patch region (native/inline_cache.py) that starts
by calling the helper through the runtime and is rewritten, on a miss, into shape checks
and slot accesses.  The interpreter calls the helper as for any extern.  The operands are
fixed by the kind: the receiver first, then the field's name (the address of a cell holding
the interned name string), then the value stored, if any.
"""
from dataclasses import dataclass

from .types import PTR, TAGREF64


@dataclass(frozen=True)
class ICKind:
    """One kind of inline cache: the helper signature it applies to and what it does."""

    name: str
    params: tuple
    results: tuple
    doc: str


IC_KINDS = {k.name: k for k in (
    ICKind("get_field", (TAGREF64, PTR), (TAGREF64,),
           "read field NAME of the receiver: shape check, load of its slot"),
    ICKind("set_field", (TAGREF64, PTR, TAGREF64), (),
           "write an existing field NAME of the receiver: shape check, store to its slot"),
)}


def ic_signature_error(kind: str, sig) -> str | None:
    """Why an extern of signature `sig` cannot be an inline cache of `kind`, or None."""
    known = IC_KINDS.get(kind)
    if known is None:
        return f"unknown inline-cache kind {kind!r} (known: {', '.join(IC_KINDS)})"
    if tuple(sig.params) != known.params or tuple(sig.results) != known.results:
        return f"inline-cache kind {kind} needs the signature {known.params} -> {known.results}"
    return None
