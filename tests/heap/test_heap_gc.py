"""The collector: roots of every kind, every traced field, cycles, weak tables, poisoning."""
import pytest

from offramp.heap import HeapError, ObjKind
from offramp.heap.allocator import POISON
from offramp.heap.memory import PAGE_BYTES
from offramp.ir.tagref import ADDR_MASK, NIL, from_fp

STATIC_PAGES = 1   # the allocator's free-list heads and GC words (Heap.native_allocation)


def live(heap):
    """The set of allocated object words (after a collection: exactly the live ones)."""
    return {word for word, _ in heap.objects()}


def dead(heap, word):
    """Whether word now refers to freed memory."""
    with pytest.raises(HeapError, match="dangling"):
        heap.kind_of(word)
    return True


def test_unreachable_objects_are_freed_and_poisoned(heap):
    box = heap.new_box(from_fp(1))
    arr = heap.new_array(4)
    keep = heap.new_array(4)            # same size class: its page stays in use
    with heap.handles(keep):
        heap.collect()
        assert live(heap) == {keep}
        assert dead(heap, box) and dead(heap, arr)
        words = [heap.load64((arr & ADDR_MASK) + 8 * k) for k in range(2, 6)]
        assert words == [POISON] * 4
        with pytest.raises(HeapError, match="dangling"):
            heap.array_get(arr, 0)
        assert heap.stats()["objects_freed"] == 2
    heap.collect()
    assert dead(heap, keep)             # its page was given back: it reads as zero (free)
    assert heap.memory.pages_in_use == STATIC_PAGES


def test_root_provider_keeps_objects(heap):
    roots = [heap.new_box(from_fp(7)), from_fp(3.0), NIL]
    garbage = heap.new_box(NIL)
    heap.add_root_provider(lambda: roots)
    heap.collect()
    assert heap.box_get(roots[0]) == from_fp(7)
    assert dead(heap, garbage)
    roots.clear()
    heap.collect()
    assert live(heap) == set()


def test_root_range_in_static_memory(heap):
    globals_addr = heap.alloc_static(4)
    heap.add_root_range(globals_addr, 4)
    box = heap.new_box(NIL)
    heap.store64(globals_addr + 16, box)
    heap.store64(globals_addr + 8, from_fp(2.0))
    heap.collect()
    assert heap.kind_of(box) is ObjKind.BOX
    heap.store64(globals_addr + 16, NIL)
    heap.collect()
    assert dead(heap, box)
    heap.remove_root_range(globals_addr, 4)


def test_handles_nest_and_release(heap):
    a = heap.new_box(NIL)
    with heap.handles(a) as outer:
        b = outer.add(heap.new_box(NIL))
        with heap.handles(heap.new_box(NIL)) as inner:
            c = inner[0]
            heap.collect()
            assert {a, b, c} <= live(heap)
        heap.collect()
        assert dead(heap, c) and {a, b} <= live(heap)
        outer[0] = NIL
        heap.collect()
        assert dead(heap, a) and b in live(heap)
    heap.collect()
    assert live(heap) == set()


def test_arguments_survive_the_collection_their_allocation_runs(make_heap):
    heap = make_heap(gc_stress=True)
    fn = heap.new_function(heap.intern("f"), 0, 0, 2)
    with heap.handles(fn):
        boxes = [heap.new_box(from_fp(1))]
        with heap.handles(boxes[0]):
            boxes.append(heap.new_box(from_fp(2)))
    # Nothing roots fn or the boxes now but the call's own arguments.
    closure = heap.new_closure(fn, boxes)
    assert [heap.box_get(heap.closure_upvalue(closure, k)) for k in range(2)] == \
        [from_fp(1), from_fp(2)]
    assert heap.string_text(heap.function_name(fn)) == "f"


def test_every_traced_field_keeps_its_target(heap):
    name = heap.intern("name")
    fn = heap.new_function(name, 0, 0, 1)
    box = heap.new_box(heap.intern("in a box"))
    closure = heap.new_closure(fn, [box])
    cls = heap.new_class(heap.intern("Class"))
    method = heap.new_closure(heap.new_function(heap.intern("method"), 0, 0, 0))
    heap.class_set_method(cls, heap.intern("m"), method)
    inst = heap.new_instance(cls)
    heap.instance_set_field(inst, heap.intern("field"), heap.new_array(1))
    heap.array_set(heap.instance_get_field(inst, heap.intern("field")), 0, closure)
    bound = heap.new_bound_method(inst, method)
    native = heap.new_native(heap.intern("native name"), 0, 0)
    holder = heap.new_array(2)
    heap.array_set(holder, 0, bound)
    heap.array_set(holder, 1, native)
    with heap.handles(holder):
        heap.collect()
        # bound -> receiver -> field array -> closure -> box -> string
        arr = heap.instance_get_field(heap.bound_receiver(bound), heap.intern("field"))
        kept = heap.closure_upvalue(heap.array_get(arr, 0), 0)
        assert heap.string_text(heap.box_get(kept)) == "in a box"
        assert heap.string_text(heap.function_name(heap.closure_function(closure))) == "name"
        # bound -> method; instance -> class -> method table -> method -> function name
        found = heap.class_find_method(heap.instance_class(inst), heap.intern("m"))
        assert found == heap.bound_method(bound) == method
        assert heap.string_text(heap.function_name(heap.closure_function(found))) == "method"
        assert heap.string_text(heap.class_name(cls)) == "Class"
        assert heap.string_text(heap.native_name(native)) == "native name"
        assert heap.verify() == len(live(heap))
    heap.collect()
    assert live(heap) == set()


def test_cycles_are_collected(heap):
    cls = heap.new_class(heap.intern("Node"))
    nxt = heap.intern("next")
    a = heap.new_instance(cls)
    with heap.handles(a):
        b = heap.new_instance(cls)
        heap.instance_set_field(a, nxt, b)
        heap.instance_set_field(b, nxt, a)
        box = heap.new_box(NIL)
        fn = heap.new_function(NIL, 0, 0, 1)
        heap.box_set(box, heap.new_closure(fn, [box]))            # box -> closure -> box
        heap.instance_set_field(b, heap.intern("box"), box)
        heap.collect()
        assert heap.instance_get_field(heap.instance_get_field(a, nxt), nxt) == a
    heap.collect()
    assert live(heap) == set()
    assert heap.interned_count() == 0
    assert len(heap.shapes) == 0


def test_intern_table_is_weak(heap):
    kept = heap.intern("kept")
    heap.intern("dropped")
    with heap.handles(kept):
        heap.collect()
        assert heap.interned_count() == 1
        assert heap.intern("kept") == kept
        again = heap.intern("dropped")
        assert heap.string_text(again) == "dropped"
        assert heap.interned_count() == 2


def test_shape_trees_keep_field_names_while_the_class_lives(heap):
    cls = heap.new_class(heap.intern("C"))
    with heap.handles(cls):
        inst = heap.new_instance(cls)
        heap.instance_set_field(inst, heap.intern("only_in_a_shape"), NIL)
        name = heap.intern("only_in_a_shape")
        heap.collect()                              # the instance dies, its shape stays
        assert dead(heap, inst)
        assert heap.intern("only_in_a_shape") == name
        assert len(heap.shapes) == 2
    heap.collect()                                  # the class dies: its tree goes
    assert len(heap.shapes) == 0 and heap.interned_count() == 0
    cls = heap.new_class(heap.intern("D"))
    assert heap.class_root_shape(cls).id == 1 or len(heap.shapes) == 1


def test_dangling_root_is_reported(heap):
    box = heap.new_box(NIL)
    heap.collect()
    heap.add_root_provider(lambda: [box])
    with pytest.raises(HeapError, match="dangling"):
        heap.collect()


def test_mark_bits_are_clear_after_collection(heap):
    arr = heap.new_array(3)
    with heap.handles(arr):
        for k in range(3):
            heap.array_set(arr, k, heap.new_box(from_fp(k)))
        heap.collect()
        assert heap.verify() == 4


def test_large_objects_release_their_pages(heap):
    base_pages = heap.memory.pages_in_use
    arr = heap.new_array(3 * PAGE_BYTES // 8)
    assert heap.memory.pages_in_use >= base_pages + 3
    with heap.handles(arr):
        heap.collect()
        assert heap.array_length(arr) == 3 * PAGE_BYTES // 8
    heap.collect()
    assert heap.memory.pages_in_use == STATIC_PAGES


def test_threshold_triggers_collections_and_traces_them(make_heap):
    heap = make_heap(gc_initial_threshold=64 * 1024, trace=True)
    keep = heap.new_array(1)
    with heap.handles(keep):
        for k in range(20_000):
            heap.array_set(keep, 0, heap.new_box(from_fp(k)))
        assert heap.box_get(heap.array_get(keep, 0)) == from_fp(19_999)
    stats = heap.stats()
    assert stats["collections"] >= 4
    assert stats["bytes_allocated"] >= 20_000 * 16
    assert stats["peak_committed_bytes"] <= 8 * PAGE_BYTES
    lines = heap.tracer.stream.getvalue().splitlines()
    assert len(lines) == stats["collections"]
    assert lines[0].startswith("[gc] collection 1 (threshold): live bytes ")
    assert "objects freed" in lines[0]
    heap.collect("test")
    assert "(test)" in heap.tracer.stream.getvalue().splitlines()[-1]
    assert set(stats) >= {"collections", "bytes_allocated", "live_bytes",
                          "peak_committed_bytes", "pages"}


def test_gc_stress_collects_at_every_allocation(make_heap):
    heap = make_heap(gc_stress=True)
    assert heap.poison
    for k in range(10):
        heap.new_box(from_fp(k))
    assert heap.stats()["collections"] == 10
    assert len(live(heap)) == 1                     # only the newest survives


def test_a_failed_collection_leaves_no_marks(heap):
    inner = heap.new_box(NIL)
    box = heap.new_box(inner)
    roots = [box]

    def provider():
        yield from roots
        raise RuntimeError("provider failed")
    heap.add_root_provider(provider)
    with pytest.raises(RuntimeError):
        heap.collect()
    heap.remove_root_provider(provider)
    heap.add_root_provider(lambda: roots)
    heap.collect()
    assert heap.box_get(heap.box_get(box)) == NIL     # traced, not left half-marked
    assert heap.verify() == 2


def test_allocation_inside_a_collection_is_refused(heap):
    heap.add_root_provider(lambda: [heap.new_box(NIL)])
    with pytest.raises(HeapError, match="during a collection"):
        heap.collect()


def test_freed_pages_are_reused_by_other_size_classes(heap):
    boxes = [heap.new_box(NIL) for _ in range(10_000)]      # 16-byte blocks
    used = heap.memory.pages_in_use
    del boxes
    heap.collect()
    assert heap.memory.pages_in_use == STATIC_PAGES
    arrays = [heap.new_array(30) for _ in range(2_000)]      # 256-byte blocks
    assert heap.memory.peak_committed_bytes <= max(used, heap.memory.pages_in_use) * PAGE_BYTES
    assert len(arrays) == 2_000


def test_exhausting_the_reservation(make_heap):
    heap = make_heap(reserve=16 * PAGE_BYTES, gc_initial_threshold=1 << 40)
    keep = []
    heap.add_root_provider(lambda: keep)
    with pytest.raises(MemoryError):
        while True:
            keep.append(heap.new_array(1000))
    assert heap.stats()["collections"] == 1          # it collected before giving up
    keep.clear()
    arr = heap.new_array(1000)                       # no room: collects, then fits
    assert heap.array_length(arr) == 1000
    assert heap.stats()["collections"] == 2
    assert heap.memory.pages_in_use == STATIC_PAGES + 1


def test_an_allocation_made_the_way_native_code_makes_it_is_an_ordinary_object(heap):
    """Refill a thread's allocation buffer, then pop its list, count the bytes and write
    the header through the buffer's words, as compiled code does: the GC keeps the object,
    counts the bytes, and empties the buffer (its other blocks are free blocks again)."""
    import ctypes
    from offramp.heap.heap import BUFFER_WORDS
    from offramp.heap.layout import BOX_VALUE, make_header
    from offramp.ir.tagref import REF_TAG
    buffer = (ctypes.c_uint64 * BUFFER_WORDS)()
    address = ctypes.addressof(buffer)
    heap.add_allocation_buffer(address)
    words = heap.native_allocation()
    c = words["class_of_words"][2]
    heap.refill_buffer(address, [c])
    word = lambda offset: ctypes.c_uint64.from_address(address + offset)  # noqa: E731
    head, since, limit = word(words["heads"] + 8 * c), word(words["since"]), word(words["limit"])
    block = head.value
    assert block and since.value + words["block_bytes"][c] <= limit.value
    head.value = heap.load64(block + 8)
    since.value += words["block_bytes"][c]
    heap.store64(block, make_header(ObjKind.BOX, 2))
    heap.store64(block + BOX_VALUE, from_fp(42))
    box = REF_TAG | block
    with heap.handles(box):
        heap.collect()
        assert heap.box_get(box) == from_fp(42) and box in live(heap)
        heap.verify()
    # Counted; the lists went back to the heap, and the buffer got the class's new list.
    assert since.value == 0
    assert head.value and head.value != block and heap.load64(head.value) & 0xFF == 0
    heap.remove_allocation_buffer(address)


def test_gc_stress_sends_every_native_allocation_to_the_slow_path():
    import ctypes
    from offramp.config import Config
    from offramp.heap import Heap
    from offramp.heap.heap import BUFFER_LIMIT, BUFFER_WORDS
    stressed = Heap(Config(gc_stress=True))
    buffer = (ctypes.c_uint64 * BUFFER_WORDS)()
    try:
        stressed.add_allocation_buffer(ctypes.addressof(buffer))
        stressed.refill_buffer(ctypes.addressof(buffer), [0])
        assert buffer[BUFFER_LIMIT] == 0
    finally:
        stressed.remove_allocation_buffer(ctypes.addressof(buffer))
        stressed.close()
