"""Object layouts: the one table every heap object kind is declared in.

Heap objects are bytes in native memory (see memory.py), read and written by the
interpreter through a memoryview and, later, by LLVM-compiled code through raw pointers.
Both go through the offsets exported here, and the collector traces objects by reading
this table, so a kind's layout is stated once.

An object is a sequence of 64-bit words at an 8-byte aligned address:

    word 0               the header (below)
    words 1..F           fixed fields, in table order; each is either
                           traced: a tagref64 (offramp.ir.tagref) the GC follows when it
                                   is a reference, or
                           raw:    an unsigned 64-bit integer the GC never looks at
    words F+1..size-1    the optional variable-length tail, either
                           Tail.TRACED: tagref64 words, all traced, or
                           Tail.BYTES:  raw bytes (only STRING), zero-padded to a word

Header word (the first word of every object and of every free block):

    bits  0..7    kind id (ObjKind; 0 = FREE_KIND, a free block, never a live object)
    bit   8       mark bit: set only while a collection runs; always 0 while the mutator
                  runs, so native code may compare whole headers (shape checks)
    bits  9..31   the object's size in words, header included (fixed fields + tail);
                  the allocator's block may be larger (size classes)
    bits 32..63   INSTANCE: the shape id (shapes.py); every other kind: 0

A free block has kind FREE_KIND; word 1 links to the next free block of its size class
(absolute address, 0 ends the list).  Memory the OS hands back after MADV_DONTNEED reads as
zero, which is a FREE_KIND header too.

A reference to an object is a tagref64 `REF_TAG | address` (address = the header's).
"""
from dataclasses import dataclass
from enum import Enum, IntEnum


class ObjKind(IntEnum):
    """Kind ids stored in header bits 0..7 (0 is FREE_KIND, not a kind)."""

    STRING = 1
    FUNCTION = 2
    CLOSURE = 3
    BOX = 4
    CLASS = 5
    INSTANCE = 6
    BOUND_METHOD = 7
    NATIVE = 8
    ARRAY = 9
    TABLE = 10
    VALUES = 11
    THREAD = 12
    LOCK = 13


class Tail(Enum):
    """What follows an object's fixed fields."""

    NONE = "none"        # the object is exactly its fixed fields
    TRACED = "traced"    # tagref64 words up to the header's size, all traced
    BYTES = "bytes"      # raw bytes (their count is a fixed field), never traced


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One fixed field: its name, byte offset from the header, and whether the GC traces it."""

    name: str
    offset: int
    traced: bool


@dataclass(frozen=True, slots=True)
class Layout:
    """One object kind: its id, fixed fields, tail and a sentence on what it is for."""

    kind: ObjKind
    fields: tuple
    tail: Tail
    tail_name: str | None
    doc: str

    @property
    def name(self) -> str:
        """The kind's name, as printed in dumps."""
        return self.kind.name

    @property
    def fixed_words(self) -> int:
        """Header plus fixed fields, in words: where the tail starts."""
        return 1 + len(self.fields)

    @property
    def tail_offset(self) -> int:
        """Byte offset of the tail (meaningful when tail is not NONE)."""
        return 8 * self.fixed_words

    def offset(self, field: str) -> int:
        """Byte offset of a fixed field, or of the tail when `field` is the tail's name."""
        for spec in self.fields:
            if spec.name == field:
                return spec.offset
        if field == self.tail_name and self.tail is not Tail.NONE:
            return self.tail_offset
        raise KeyError(f"{self.name} has no field {field!r}")

    @property
    def traced_offsets(self) -> tuple:
        """Byte offsets of the traced fixed fields."""
        return tuple(f.offset for f in self.fields if f.traced)


TRACED, RAW = True, False


def _layout(kind, doc, *fields, tail=Tail.NONE, tail_name=None) -> Layout:
    """Build a Layout, placing fixed fields one word apart after the header."""
    specs = tuple(FieldSpec(name, 8 * (1 + n), traced) for n, (name, traced) in enumerate(fields))
    return Layout(kind, specs, tail, tail_name, doc)


# The table.  Add a kind here, and the collector, the dumps and the offset constants below
# (and, through them, native lowering) know about it.
LAYOUT_TABLE = (
    _layout(ObjKind.STRING, "interned UTF-8 text; hash is zlib.crc32 of the bytes",
            ("hash", RAW), ("length", RAW), tail=Tail.BYTES, tail_name="bytes"),
    _layout(ObjKind.FUNCTION, "a compiled function; code_id names its code in the runtime",
            ("name", TRACED), ("arity", RAW), ("code_id", RAW), ("upvalue_count", RAW)),
    _layout(ObjKind.CLOSURE, "a function with its captured variables (BOX refs in the tail)",
            ("function", TRACED), ("upvalue_count", RAW),
            tail=Tail.TRACED, tail_name="upvalues"),
    _layout(ObjKind.BOX, "one captured variable, shared by the closures that capture it",
            ("value", TRACED)),
    _layout(ObjKind.CLASS, "a Lox class: name, method TABLE, id of its instances' root shape",
            ("name", TRACED), ("methods", TRACED), ("root_shape", RAW)),
    _layout(ObjKind.INSTANCE, "a Lox instance; header bits 32..63 hold its shape id; fields "
            "live out of line in a VALUES object (NIL until the first field is set)",
            ("klass", TRACED), ("fields", TRACED)),
    _layout(ObjKind.BOUND_METHOD, "a method closure bound to its receiver",
            ("receiver", TRACED), ("method", TRACED)),
    _layout(ObjKind.NATIVE, "a function implemented by the runtime; native_id names it",
            ("name", TRACED), ("arity", RAW), ("native_id", RAW)),
    _layout(ObjKind.ARRAY, "the Lox Array(n) extension: length, then the elements",
            ("length", RAW), tail=Tail.TRACED, tail_name="elements"),
    _layout(ObjKind.TABLE, "open-addressing hash table: (key, value) word pairs in the tail, "
            "keys interned STRING refs, NIL marks an empty entry; capacity a power of two",
            ("count", RAW), tail=Tail.TRACED, tail_name="entries"),
    _layout(ObjKind.VALUES, "an instance's field storage: slot i holds the field the shape "
            "maps to i; capacity is the header size minus one",
            tail=Tail.TRACED, tail_name="slots"),
    _layout(ObjKind.THREAD, "a thread spawn() started: its index in the VM's thread table",
            ("thread_index", RAW)),
    _layout(ObjKind.LOCK, "a Lox Lock(): its holder (thread id, 0 when free) and the thread "
            "it is biased to (thread id; 0: none yet; objects.LOCK_REVOKED: a real lock now)",
            ("holder", RAW), ("bias", RAW)),
)

LAYOUTS = {layout.kind: layout for layout in LAYOUT_TABLE}

# Header bits.
FREE_KIND = 0
HEADER_KIND_MASK = 0xFF
HEADER_MARK = 1 << 8
HEADER_SIZE_SHIFT = 9
HEADER_SIZE_MASK = (1 << 23) - 1          # after shifting
HEADER_SHAPE_SHIFT = 32
HEADER_LOW_MASK = (1 << 32) - 1           # kind, mark and size: everything but the shape
MAX_OBJECT_WORDS = HEADER_SIZE_MASK
FREE_LINK_OFFSET = 8                      # a free block's next-free link


def make_header(kind: int, size_words: int, shape_id: int = 0) -> int:
    """The header word of a fresh (unmarked) object."""
    return kind | (size_words << HEADER_SIZE_SHIFT) | (shape_id << HEADER_SHAPE_SHIFT)


def header_kind(header: int) -> int:
    """Kind id of a header (FREE_KIND for a free block)."""
    return header & HEADER_KIND_MASK


def header_size(header: int) -> int:
    """Object size in words, header included."""
    return (header >> HEADER_SIZE_SHIFT) & HEADER_SIZE_MASK


def header_shape(header: int) -> int:
    """Shape id (instances) or 0."""
    return header >> HEADER_SHAPE_SHIFT


def _off(kind: ObjKind, field: str) -> int:
    return LAYOUTS[kind].offset(field)


# Byte offsets for native lowering and the interpreter, derived from the table (a test
# checks that every field of every kind has its constant here).
HEADER_OFFSET = 0

STRING_HASH = _off(ObjKind.STRING, "hash")
STRING_LENGTH = _off(ObjKind.STRING, "length")
STRING_BYTES = _off(ObjKind.STRING, "bytes")

FUNCTION_NAME = _off(ObjKind.FUNCTION, "name")
FUNCTION_ARITY = _off(ObjKind.FUNCTION, "arity")
FUNCTION_CODE_ID = _off(ObjKind.FUNCTION, "code_id")
FUNCTION_UPVALUE_COUNT = _off(ObjKind.FUNCTION, "upvalue_count")

CLOSURE_FUNCTION = _off(ObjKind.CLOSURE, "function")
CLOSURE_UPVALUE_COUNT = _off(ObjKind.CLOSURE, "upvalue_count")
CLOSURE_UPVALUES = _off(ObjKind.CLOSURE, "upvalues")

BOX_VALUE = _off(ObjKind.BOX, "value")

CLASS_NAME = _off(ObjKind.CLASS, "name")
CLASS_METHODS = _off(ObjKind.CLASS, "methods")
CLASS_ROOT_SHAPE = _off(ObjKind.CLASS, "root_shape")

INSTANCE_KLASS = _off(ObjKind.INSTANCE, "klass")
INSTANCE_FIELDS = _off(ObjKind.INSTANCE, "fields")

BOUND_METHOD_RECEIVER = _off(ObjKind.BOUND_METHOD, "receiver")
BOUND_METHOD_METHOD = _off(ObjKind.BOUND_METHOD, "method")

NATIVE_NAME = _off(ObjKind.NATIVE, "name")
NATIVE_ARITY = _off(ObjKind.NATIVE, "arity")
NATIVE_NATIVE_ID = _off(ObjKind.NATIVE, "native_id")

ARRAY_LENGTH = _off(ObjKind.ARRAY, "length")
ARRAY_ELEMENTS = _off(ObjKind.ARRAY, "elements")

TABLE_COUNT = _off(ObjKind.TABLE, "count")
TABLE_ENTRIES = _off(ObjKind.TABLE, "entries")

VALUES_SLOTS = _off(ObjKind.VALUES, "slots")

THREAD_THREAD_INDEX = _off(ObjKind.THREAD, "thread_index")

LOCK_HOLDER = _off(ObjKind.LOCK, "holder")
LOCK_BIAS = _off(ObjKind.LOCK, "bias")


def offset_constant_name(kind: ObjKind, field: str) -> str:
    """The name of the module constant holding a field's byte offset (e.g. BOX_VALUE)."""
    return f"{kind.name}_{field.upper()}"


def trace_plan() -> list:
    """Per kind id: None (not an object) or (traced fixed word indices, traced tail start).

    The tail start is the word index where traced tail words begin, or 0 for no traced
    tail.  The collector's only knowledge of object kinds.
    """
    plan = [None] * (HEADER_KIND_MASK + 1)
    for layout in LAYOUT_TABLE:
        words = tuple(off // 8 for off in layout.traced_offsets)
        tail = layout.fixed_words if layout.tail is Tail.TRACED else 0
        plan[layout.kind] = (words, tail)
    return plan


def describe_table() -> str:
    """The table as text, one line per kind: for dumps and documentation."""
    lines = []
    for layout in LAYOUT_TABLE:
        parts = [f"{f.name}@{f.offset}{'' if f.traced else ' raw'}" for f in layout.fields]
        if layout.tail is not Tail.NONE:
            parts.append(f"{layout.tail_name}[]@{layout.tail_offset} {layout.tail.value}")
        lines.append(f"{layout.kind:2d} {layout.name:<13} header@0 " + " ".join(parts))
    return "\n".join(lines)
