"""The layout table: ids, offsets, exported constants, header bits, and real objects."""
from hypothesis import given, strategies as st

from offramp.heap import layout
from offramp.heap.allocator import MAX_SMALL_WORDS, SIZE_CLASS_WORDS, Allocator
from offramp.heap.layout import (
    HEADER_MARK, LAYOUT_TABLE, LAYOUTS, MAX_OBJECT_WORDS, ObjKind, Tail, header_kind,
    header_shape, header_size, make_header, offset_constant_name,
)
from offramp.ir.tagref import ADDR_MASK, NIL, from_fp


def test_every_kind_has_one_layout_with_an_id_that_fits_the_header():
    assert [l.kind for l in LAYOUT_TABLE] == list(ObjKind)
    assert all(0 < kind < 256 for kind in ObjKind)
    assert layout.FREE_KIND not in set(ObjKind)


def test_fields_are_consecutive_words_after_the_header():
    for lay in LAYOUT_TABLE:
        assert [f.offset for f in lay.fields] == [8 * (1 + n) for n in range(len(lay.fields))]
        assert lay.fixed_words == 1 + len(lay.fields)
        assert len({f.name for f in lay.fields}) == len(lay.fields)
        assert (lay.tail is Tail.NONE) == (lay.tail_name is None)


def test_offset_constants_match_the_table():
    for lay in LAYOUT_TABLE:
        names = [f.name for f in lay.fields] + ([lay.tail_name] if lay.tail_name else [])
        for name in names:
            constant = offset_constant_name(lay.kind, name)
            assert getattr(layout, constant) == lay.offset(name), constant


def test_no_offset_constant_outside_the_table():
    prefixes = tuple(f"{kind.name}_" for kind in ObjKind)
    declared = {offset_constant_name(l.kind, n)
                for l in LAYOUT_TABLE
                for n in [f.name for f in l.fields] + [l.tail_name] if n}
    exported = {name for name in vars(layout) if name.startswith(prefixes) and name.isupper()}
    assert exported == declared


def test_only_strings_have_a_byte_tail():
    assert [l.kind for l in LAYOUT_TABLE if l.tail is Tail.BYTES] == [ObjKind.STRING]


def test_trace_plan_is_derived_from_the_table():
    plan = layout.trace_plan()
    assert plan[layout.FREE_KIND] is None
    for lay in LAYOUT_TABLE:
        fixed, tail = plan[lay.kind]
        assert fixed == tuple(f.offset // 8 for f in lay.fields if f.traced)
        assert tail == (lay.fixed_words if lay.tail is Tail.TRACED else 0)


@given(st.sampled_from(list(ObjKind)), st.integers(1, MAX_OBJECT_WORDS),
       st.integers(0, 2**32 - 1))
def test_header_round_trip(kind, size, shape):
    header = make_header(kind, size, shape)
    assert header_kind(header) == kind
    assert header_size(header) == size
    assert header_shape(header) == shape
    assert not header & HEADER_MARK
    assert header_size(header | HEADER_MARK) == size


def test_size_classes_ascend_and_waste_little():
    assert SIZE_CLASS_WORDS[0] == 2 and SIZE_CLASS_WORDS[-1] == MAX_SMALL_WORDS
    assert list(SIZE_CLASS_WORDS) == sorted(set(SIZE_CLASS_WORDS))
    for small, big in zip(SIZE_CLASS_WORDS, SIZE_CLASS_WORDS[1:]):
        assert big - small <= max(1, small // 4)


def test_class_of_words_picks_the_smallest_fitting_class(make_heap):
    allocator = Allocator(make_heap().memory)
    for words in range(1, MAX_SMALL_WORDS + 1):
        c = allocator.class_of_words[words]
        assert SIZE_CLASS_WORDS[c] >= words
        assert c == 0 or SIZE_CLASS_WORDS[c - 1] < words


def test_describe_table_names_every_kind():
    text = layout.describe_table()
    assert all(kind.name in text for kind in ObjKind)


def test_objects_in_memory_follow_the_table(heap):
    """What native code would load at the exported offsets is what the accessors return."""
    load = heap.load64
    name = heap.intern("héllo")
    fn = heap.new_function(name, 2, 77, 1)
    box = heap.new_box(from_fp(1.5))
    closure = heap.new_closure(fn, [box])
    cls = heap.new_class(name)
    heap.class_set_method(cls, name, closure)
    inst = heap.new_instance(cls)
    heap.instance_set_field(inst, name, box)
    bound = heap.new_bound_method(inst, closure)
    native = heap.new_native(name, 1, 5)
    arr = heap.new_array(3)
    heap.array_set(arr, 1, box)
    words = [name, fn, box, closure, cls, inst, bound, native, arr]
    with heap.handles(*words):
        def addr(w):
            return w & ADDR_MASK
        sizes = {ObjKind.STRING: 3 + 1, ObjKind.CLOSURE: 3 + 1, ObjKind.ARRAY: 2 + 3}
        for word in words:
            kind = heap.kind_of(word)
            header = load(addr(word))
            assert header_kind(header) == kind
            assert header_size(header) == sizes.get(kind, LAYOUTS[kind].fixed_words)
        assert load(addr(name) + layout.STRING_LENGTH) == len("héllo".encode())
        assert heap.load64(addr(name) + layout.STRING_HASH) == heap.string_hash(name)
        assert heap.memory.load_bytes(addr(name) + layout.STRING_BYTES, 6) == "héllo".encode()
        assert load(addr(fn) + layout.FUNCTION_NAME) == name
        assert load(addr(fn) + layout.FUNCTION_ARITY) == 2
        assert load(addr(fn) + layout.FUNCTION_CODE_ID) == 77
        assert load(addr(fn) + layout.FUNCTION_UPVALUE_COUNT) == 1
        assert load(addr(box) + layout.BOX_VALUE) == from_fp(1.5)
        assert load(addr(closure) + layout.CLOSURE_FUNCTION) == fn
        assert load(addr(closure) + layout.CLOSURE_UPVALUE_COUNT) == 1
        assert load(addr(closure) + layout.CLOSURE_UPVALUES) == box
        assert load(addr(cls) + layout.CLASS_NAME) == name
        assert heap.kind_of(load(addr(cls) + layout.CLASS_METHODS)) is ObjKind.TABLE
        assert load(addr(cls) + layout.CLASS_ROOT_SHAPE) == heap.class_root_shape(cls).id
        assert load(addr(inst) + layout.INSTANCE_KLASS) == cls
        assert header_shape(load(addr(inst))) == heap.instance_shape(inst).id
        fields = load(addr(inst) + layout.INSTANCE_FIELDS)
        assert heap.kind_of(fields) is ObjKind.VALUES
        assert load(addr(fields) + layout.VALUES_SLOTS) == box
        assert load(addr(bound) + layout.BOUND_METHOD_RECEIVER) == inst
        assert load(addr(bound) + layout.BOUND_METHOD_METHOD) == closure
        assert load(addr(native) + layout.NATIVE_NAME) == name
        assert load(addr(native) + layout.NATIVE_ARITY) == 1
        assert load(addr(native) + layout.NATIVE_NATIVE_ID) == 5
        assert load(addr(arr) + layout.ARRAY_LENGTH) == 3
        assert [load(addr(arr) + layout.ARRAY_ELEMENTS + 8 * k) for k in range(3)] == \
            [NIL, box, NIL]
