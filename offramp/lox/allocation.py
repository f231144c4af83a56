"""Allocation of Lox instances without calling Python: an IR function per class.

`Class(args)` in speculated code used to call the `lox.instantiate` helper, which crosses
from native code into Python for every object (binary_trees makes millions).  Each thread
has an allocation buffer in its thread block (free-list heads per size class, a byte
counter and a limit: `Heap.native_allocation`), which only that thread's native code pops,
so allocation can be IR, without a lock: `instance_allocator(runtime, cls)` returns
`@lox.rt.new.<class>.<capacity>`, a function of no arguments returning a new instance of
`cls`, built once per class and field capacity (THREAD_LOCAL gives the buffer's address):

    entry:  since + bytes <= limit, and the INSTANCE class's free list is not empty?
    second: and the VALUES class's free list (for the field storage) is not empty?
    fast:   pop both blocks, count the bytes, write both headers, the class, NIL fields
    slow:   CCALL @lox.instantiate (cls)   (allocates in Python and refills the buffer:
            collects, takes a page, or gc-stress)

It is the helper's work exactly (`LoxObjects.new_instance`): the same headers, the root
shape of the class, storage for the most fields its instances have had.  Nothing in the
fast path can collect or deoptimize, so the popped blocks are never seen half-made; the
slow path carries a frame state of this function waiting at the helper, so a deopt there
rebuilds a frame of it (which the interpreter finishes by returning the helper's result).
The speculator calls it with the state of the `lox.instantiate` call it replaces, and the
optimizer inlines it like a speculated callee.
"""
from ..heap.layout import (HEADER_SHAPE_SHIFT, INSTANCE_FIELDS, INSTANCE_KLASS, VALUES_SLOTS,
                           make_header)
from ..heap import ObjKind
from ..ir.builder import ModuleBuilder, dest
from ..ir.nodes import FrameState, Imm
from ..ir.tagref import ADDR_MASK, NIL
from ..ir.types import I1, I64, REF, TAGREF64
from ..native.threadblock import OFFSET

PREFIX = "lox.rt.new."
INSTANCE_WORDS = INSTANCE_FIELDS // 8 + 1
MAX_CAPACITY = 32       # field slots the fast path fills (one store each); more: the helper


def instance_allocator(runtime, cls: int) -> str | None:
    """The name of the IR function allocating an instance of CLASS `cls` (made on first
    use), or None when its instances get more than MAX_CAPACITY field slots."""
    heap, module = runtime.heap, runtime.program.module
    root = heap.class_root_shape(cls)
    root_id, capacity = root.id, root.max_fields
    if capacity > MAX_CAPACITY:
        return None
    name = f"{PREFIX}{cls & ADDR_MASK:x}.{capacity}"
    if name not in module.functions:
        runtime.embed(cls)
        _build(ModuleBuilder(module), heap.native_allocation(), name, cls, root_id, capacity)
    return name


def buffer_classes(heap, cls: int) -> tuple:
    """The size classes an instance of `cls` takes from an allocation buffer: its own and
    its field storage's (None when it has no field slots)."""
    words = heap.native_allocation()["class_of_words"]
    capacity = heap.class_root_shape(cls).max_fields
    return words[INSTANCE_WORDS], (words[VALUES_SLOTS // 8 + capacity] if capacity else None)


def _build(mb, words: dict, name: str, cls: int, root_id: int, capacity: int) -> None:
    """Add `@name`: the allocation fast path described in the module docstring."""
    mb.typedef("ref", REF)
    sig = mb.funcsig("lox.rt.new.sig", (), (TAGREF64,))
    mb.function(name, sig)
    vb = mb.version(name, "v1", unsafe=True)   # raw allocation: pointers and heap layout
    classes, block_bytes = words["class_of_words"], words["block_bytes"]
    ci = classes[INSTANCE_WORDS]
    cv = classes[VALUES_SLOTS // 8 + capacity] if capacity else None
    entry, second, fast, slow = (vb.new_block(label) for label in
                                 ("entry", "second", "fast", "slow"))

    vb.position_at_end(entry)
    buffer = OFFSET["alloc_since"]
    since = vb.value("THREAD_LOCAL", buffer + words["since"])
    limit = vb.value("THREAD_LOCAL", buffer + words["limit"])
    head_i = vb.value("THREAD_LOCAL", buffer + words["heads"] + 8 * ci)
    head_v = None if cv is None else vb.value("THREAD_LOCAL",
                                              buffer + words["heads"] + 8 * cv)
    nbytes = block_bytes[ci] + (block_bytes[cv] if cv is not None else 0)
    count = vb.value("LOAD", I64, since, 0)
    need = vb.value("ADD", I64, count, Imm(nbytes))
    fits = vb.value("ULE", I64, need, vb.value("LOAD", I64, limit, 0))
    # A list head is tested as a plain word (a reference cannot be a literal 0) and read
    # as a reference once it is known not to be 0.
    some = vb.value("NE", I64, vb.value("LOAD", I64, head_i, 0), Imm(0))
    vb.emit("BRANCH2", vb.value("AND", I1, fits, some), dest(second), dest(slow))

    vb.position_at_end(second)
    inst = vb.value("LOAD", REF, head_i, 0)
    if cv is None:
        vb.emit("BRANCH", dest(fast))
    else:
        vals_head, vals_base = (inst, 8) if cv == ci else (head_v, 0)
        some_vals = vb.value("NE", I64, vb.value("LOAD", I64, vals_head, vals_base), Imm(0))
        vb.emit("BRANCH2", some_vals, dest(fast), dest(slow))

    vb.position_at_end(fast)
    after_inst = vb.value("LOAD", REF, inst, 8)
    vals = None if cv is None else vb.value("LOAD", REF, vals_head, vals_base)
    if cv is None:
        vb.emit("STORE", REF, head_i, 0, after_inst)
    else:
        after_vals = vb.value("LOAD", REF, vals, 8)
        if cv != ci:
            vb.emit("STORE", REF, head_i, 0, after_inst)
        vb.emit("STORE", REF, head_v, 0, after_vals)
    vb.emit("STORE", I64, since, 0, need)
    vb.emit("STORE", I64, inst, 0, Imm(make_header(ObjKind.INSTANCE, INSTANCE_WORDS)
                                      | (root_id << HEADER_SHAPE_SHIFT)))
    vb.emit("STORE", TAGREF64, inst, INSTANCE_KLASS, Imm(cls))
    if cv is None:
        vb.emit("STORE", TAGREF64, inst, INSTANCE_FIELDS, Imm(NIL))
    else:
        words_v = VALUES_SLOTS // 8 + capacity
        vb.emit("STORE", I64, vals, 0, Imm(make_header(ObjKind.VALUES, words_v)))
        for k in range(capacity):
            vb.emit("STORE", TAGREF64, vals, VALUES_SLOTS + 8 * k, Imm(NIL))
        vb.emit("STORE", TAGREF64, inst, INSTANCE_FIELDS, vb.value("TR64_FROM_REF", vals))
    vb.emit("RET", (vb.value("TR64_FROM_REF", inst),))

    vb.position_at_end(slow)
    waiting = FrameState(name, "v1", "slow", 0, ())
    made = vb.value("CCALL", "lox.instantiate", (Imm(cls),), (), waiting)
    vb.emit("RET", (made,))
