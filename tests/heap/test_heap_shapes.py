"""Shapes: transition trees per class, slots, ids in headers, field storage growth."""
import pytest

from offramp.heap import ShapeTable
from offramp.heap.layout import INSTANCE_FIELDS, header_shape, header_size
from offramp.ir.tagref import ADDR_MASK, from_fp


def _instance_with(heap, cls, names):
    inst = heap.new_instance(cls)
    for k, name in enumerate(names):
        heap.instance_set_field(inst, heap.intern(name), from_fp(k))
    return inst


def test_same_field_order_same_shape(heap):
    cls = heap.new_class(heap.intern("P"))
    a = _instance_with(heap, cls, ["x", "y", "z"])
    b = _instance_with(heap, cls, ["x", "y", "z"])
    c = _instance_with(heap, cls, ["y", "x", "z"])
    assert heap.instance_shape(a) is heap.instance_shape(b)
    assert heap.instance_shape(a) is not heap.instance_shape(c)
    assert heap.instance_shape(a).slot_of[heap.intern("z")] == 2
    assert heap.instance_shape(c).slot_of[heap.intern("x")] == 1


def test_prefix_shapes_form_a_tree(heap):
    cls = heap.new_class(heap.intern("T"))
    root = heap.class_root_shape(cls)
    inst = heap.new_instance(cls)
    assert heap.instance_shape(inst) is root and root.parent is None and root.field_count == 0
    x, y = heap.intern("x"), heap.intern("y")
    heap.instance_set_field(inst, x, from_fp(1))
    sx = heap.instance_shape(inst)
    heap.instance_set_field(inst, y, from_fp(2))
    sxy = heap.instance_shape(inst)
    assert sxy.parent is sx and sx.parent is root
    assert root.transitions == {x: sx} and sx.transitions == {y: sxy}
    assert sxy.names == (x, y) and sxy.name == y
    heap.instance_set_field(inst, x, from_fp(3))            # existing field: no transition
    assert heap.instance_shape(inst) is sxy


def test_shape_id_is_in_the_header_and_determines_the_class(heap):
    p = heap.new_class(heap.intern("P"))
    q = heap.new_class(heap.intern("Q"))
    a = _instance_with(heap, p, ["x"])
    b = _instance_with(heap, q, ["x"])
    sa, sb = heap.instance_shape(a), heap.instance_shape(b)
    assert sa is not sb
    assert header_shape(heap.header(a)) == sa.id == heap.instance_shape_id(a)
    assert heap.shapes[sa.id] is sa
    assert sa.class_addr == p & ADDR_MASK and sb.class_addr == q & ADDR_MASK


def test_field_storage_grows_and_keeps_values(heap):
    cls = heap.new_class(heap.intern("Wide"))
    names = [f"f{k}" for k in range(50)]
    inst = _instance_with(heap, cls, names)
    for k, name in enumerate(names):
        assert heap.instance_get_field(inst, heap.intern(name)) == from_fp(k)
    assert heap.instance_shape(inst).field_count == 50


def test_new_instances_get_storage_for_the_usual_field_count(heap):
    cls = heap.new_class(heap.intern("Tree"))
    _instance_with(heap, cls, ["item", "depth", "left", "right", "extra"])
    fresh = heap.new_instance(cls)
    fields = heap.load64((fresh & ADDR_MASK) + INSTANCE_FIELDS)
    assert header_size(heap.header(fields)) - 1 == 5          # capacity = fields seen
    empty = heap.new_instance(heap.new_class(heap.intern("Empty")))
    assert heap.instance_fields(empty) == []


def test_shape_table_lookup_and_recycling():
    table = ShapeTable()
    root = table.new_root(0x1000)
    child = table.transition(root, 7)
    assert table.transition(root, 7) is child
    assert table[child.id] is child and len(table) == 2
    assert root.tree_names == {7} and root.max_fields == 1
    table.drop_tree(root)
    assert len(table) == 0
    with pytest.raises(KeyError):
        table[child.id]
    again = table.new_root(0x2000)
    assert again.id in (root.id, child.id)                    # ids are reused
