"""Every object kind's constructor and accessors, and the checks that guard them."""
import zlib

import pytest

from offramp.heap import HeapError, HeapIndexError, ObjKind
from offramp.ir.tagref import FALSE, NIL, TRUE, from_fp, to_fp


def test_interning_gives_one_string_per_content(heap):
    a = heap.intern("hello")
    assert heap.intern("hel" + "lo") == a
    assert heap.intern("world") != a
    assert heap.string_text(a) == "hello"
    assert heap.kind_of(a) is ObjKind.STRING
    assert heap.interned_count() == 2


@pytest.mark.parametrize("text", ["", "a", "exactly8", "nine char", "ünïcödé ☃ 𝄞", "x" * 1000])
def test_string_bytes_in_memory(heap, text):
    word = heap.intern(text)
    data = text.encode()
    assert heap.string_bytes(word) == data
    assert heap.string_length(word) == len(data)
    assert heap.string_hash(word) == zlib.crc32(data)
    assert heap.string_text(word) == text


def test_concat(heap):
    ab = heap.concat(heap.intern("ab"), heap.intern("cd"))
    assert ab == heap.intern("abcd")
    assert heap.concat(heap.intern(""), ab) == ab


def test_function_accessors(heap):
    name = heap.intern("fib")
    fn = heap.new_function(name, 1, 12, 0)
    assert heap.kind_of(fn) is ObjKind.FUNCTION
    assert heap.function_name(fn) == name
    assert heap.function_arity(fn) == 1
    assert heap.function_code_id(fn) == 12
    assert heap.function_upvalue_count(fn) == 0
    script = heap.new_function(NIL, 0, 0, 0)
    assert heap.function_name(script) == NIL
    assert heap.describe(script) == "<function script>"
    assert heap.describe(fn) == "<function fib>"


def test_raw_fields_are_checked(heap):
    with pytest.raises(HeapError):
        heap.new_function(NIL, -1, 0, 0)
    with pytest.raises(HeapError):
        heap.new_native(heap.intern("f"), 0, 2**63)
    with pytest.raises(HeapError):
        heap.new_array(-1)
    with pytest.raises(HeapError):
        heap.new_function(from_fp(1.0), 0, 0, 0)      # a name must be a STRING or NIL


def test_box(heap):
    box = heap.new_box(from_fp(2.5))
    assert to_fp(heap.box_get(box)) == 2.5
    heap.box_set(box, TRUE)
    assert heap.box_get(box) == TRUE


def test_closure(heap):
    fn = heap.new_function(heap.intern("f"), 0, 1, 2)
    boxes = [heap.new_box(from_fp(k)) for k in range(2)]
    closure = heap.new_closure(fn, boxes)
    assert heap.closure_function(closure) == fn
    assert heap.closure_upvalue_count(closure) == 2
    assert [heap.closure_upvalue(closure, k) for k in range(2)] == boxes
    with pytest.raises(HeapIndexError):
        heap.closure_upvalue(closure, 2)
    with pytest.raises(HeapError):
        heap.new_closure(fn, boxes[:1])                 # fn captures two
    with pytest.raises(HeapError):
        heap.new_closure(fn, [boxes[0], fn])            # upvalues are BOXes
    bare = heap.new_closure(heap.new_function(NIL, 0, 0, 0))
    assert heap.closure_upvalue_count(bare) == 0


def test_native(heap):
    name = heap.intern("clock")
    native = heap.new_native(name, 0, 3)
    assert (heap.native_name(native), heap.native_arity(native), heap.native_id(native)) == \
        (name, 0, 3)
    assert heap.describe(native) == "<native clock>"


def test_classes_and_methods(heap):
    cls = heap.new_class(heap.intern("A"))
    assert heap.string_text(heap.class_name(cls)) == "A"
    m1, m2 = heap.intern("m1"), heap.intern("m2")
    assert heap.class_find_method(cls, m1) is None
    heap.class_set_method(cls, m1, TRUE)
    heap.class_set_method(cls, m2, FALSE)
    assert heap.class_find_method(cls, m1) == TRUE
    heap.class_set_method(cls, m1, NIL)                 # redefinition replaces
    assert heap.class_find_method(cls, m1) == NIL
    assert sorted(heap.class_methods(cls)) == sorted([(m1, NIL), (m2, FALSE)])


def test_method_table_grows(heap):
    cls = heap.new_class(heap.intern("Big"))
    names = [heap.intern(f"method{k}") for k in range(200)]
    for k, name in enumerate(names):
        heap.class_set_method(cls, name, from_fp(k))
    assert [to_fp(heap.class_find_method(cls, n)) for n in names] == list(range(200))
    assert heap.class_find_method(cls, heap.intern("absent")) is None
    assert len(heap.class_methods(cls)) == 200


def test_inherit_copies_methods_and_subclass_overrides(heap):
    sup = heap.new_class(heap.intern("Base"))
    sub = heap.new_class(heap.intern("Derived"))
    a, b = heap.intern("a"), heap.intern("b")
    heap.class_set_method(sup, a, from_fp(1))
    heap.class_set_method(sup, b, from_fp(2))
    heap.class_inherit(sub, sup)
    heap.class_set_method(sub, b, from_fp(3))
    assert heap.class_find_method(sub, a) == from_fp(1)
    assert heap.class_find_method(sub, b) == from_fp(3)
    assert heap.class_find_method(sup, b) == from_fp(2)


def test_instances(heap):
    cls = heap.new_class(heap.intern("P"))
    inst = heap.new_instance(cls)
    x, y = heap.intern("x"), heap.intern("y")
    assert heap.instance_class(inst) == cls
    assert heap.instance_get_field(inst, x) is None
    heap.instance_set_field(inst, x, from_fp(1))
    heap.instance_set_field(inst, y, from_fp(2))
    heap.instance_set_field(inst, x, from_fp(3))
    assert heap.instance_get_field(inst, x) == from_fp(3)
    assert heap.instance_get_field(inst, y) == from_fp(2)
    assert heap.instance_fields(inst) == [(x, from_fp(3)), (y, from_fp(2))]
    assert heap.instance_get_field(inst, from_fp(1)) is None     # never a field name
    with pytest.raises(HeapError):
        heap.instance_set_field(inst, from_fp(1), NIL)


def test_bound_method(heap):
    cls = heap.new_class(heap.intern("C"))
    inst = heap.new_instance(cls)
    closure = heap.new_closure(heap.new_function(heap.intern("m"), 0, 0, 0))
    bound = heap.new_bound_method(inst, closure)
    assert heap.bound_receiver(bound) == inst
    assert heap.bound_method(bound) == closure
    with pytest.raises(HeapError):
        heap.new_bound_method(inst, inst)


def test_arrays(heap):
    arr = heap.new_array(4)
    assert heap.array_length(arr) == 4
    assert [heap.array_get(arr, k) for k in range(4)] == [NIL] * 4
    heap.array_set(arr, 3, TRUE)
    assert heap.array_get(arr, 3) == TRUE
    for bad in (-1, 4, 100):
        with pytest.raises(HeapIndexError):
            heap.array_get(arr, bad)
        with pytest.raises(IndexError):
            heap.array_set(arr, bad, NIL)
    assert heap.array_length(heap.new_array(0)) == 0
    big = heap.new_array(10_000)                        # a large object: a span of its own
    heap.array_set(big, 9_999, FALSE)
    assert heap.array_get(big, 9_999) == FALSE and heap.array_get(big, 0) == NIL


def test_kind_of(heap):
    assert heap.kind_of(from_fp(1.0)) is None
    assert heap.kind_of(NIL) is None and heap.kind_of(TRUE) is None
    assert heap.kind_of(heap.new_array(1)) is ObjKind.ARRAY
    assert heap.kind_of(heap.new_box(NIL)) is ObjKind.BOX


def test_wrong_kinds_raise(heap):
    box = heap.new_box(NIL)
    arr = heap.new_array(1)
    cls = heap.new_class(heap.intern("K"))
    for call in (lambda: heap.array_get(box, 0), lambda: heap.box_get(arr),
                 lambda: heap.box_get(from_fp(3.0)), lambda: heap.box_set(NIL, NIL),
                 lambda: heap.instance_get_field(cls, heap.intern("x")),
                 lambda: heap.instance_set_field(box, heap.intern("x"), NIL),
                 lambda: heap.class_find_method(box, heap.intern("x")),
                 lambda: heap.class_find_method(cls, from_fp(0)),
                 lambda: heap.new_instance(box), lambda: heap.string_text(box),
                 lambda: heap.closure_function(box), lambda: heap.function_arity(box),
                 lambda: heap.new_class(NIL), lambda: heap.class_inherit(box, cls)):
        with pytest.raises(HeapError):
            call()
    with pytest.raises(HeapError, match="expected BOX, got ARRAY"):
        heap.box_get(arr)
    with pytest.raises(HeapError):
        heap.kind_of(0xFFFF_0000_0000_0008)           # a reference outside the heap
