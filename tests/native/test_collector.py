"""The collector's mark loop in machine code marks what the Python loop marks."""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from offramp.config import Config
from offramp.heap import Heap, HeapError
from offramp.ir.tagref import NIL, REF_TAG, from_fp
from offramp.native import collector as marking
from offramp.heap.allocator import SIZE_CLASS_WORDS
from offramp.native.collector import NativeMarkLoop, NativePageLoops, plan_table

from ..heap.test_heap_random import _run, steps


def native_heap(native=True, **config) -> Heap:
    """A small poisoning heap collecting with the machine-code loops (or, with
    native=False, its own Python ones)."""
    heap = Heap(Config(heap_reserve_bytes=1 << 26, **config), poison=True)
    if native:
        heap.set_mark_loop(NativeMarkLoop(heap))
        heap.set_page_loops(NativePageLoops())
    return heap


@pytest.fixture(name="heap")
def heap_fixture():
    heap = native_heap()
    yield heap
    heap.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.lists(st.integers(0, 10_000), max_size=6))
def test_exactly_the_reachable_objects_survive(program, root_picks):
    heap = native_heap()
    try:
        _run(heap, program, root_picks)
    finally:
        heap.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.lists(st.integers(0, 10_000), max_size=6))
def test_random_graphs_under_gc_stress(program, root_picks):
    heap = native_heap(gc_stress=True)
    try:
        _run(heap, program, root_picks)
    finally:
        heap.close()


def marks(heap, roots) -> list:
    """The headers of every object after marking from `roots` (mark bits set), then the
    marks cleared again."""
    stack = []
    heap._grey(roots, stack)
    heap._trace(stack)
    headers = [heap.header(w) for w, _ in heap.objects()]
    heap._unmark_all()
    return headers


def test_both_loops_mark_the_same_objects(heap):
    """A tree of arrays and boxes, marked from part of it by each loop in turn."""
    with heap.handles() as scope:
        leaves = [scope.add(heap.new_box(from_fp(k))) for k in range(50)]
        arrays = []
        for k in range(10):
            arr = scope.add(heap.new_array(5))
            for j in range(5):
                heap.array_set(arr, j, leaves[(5 * k + j) % 50])
            arrays.append(arr)
        top = scope.add(heap.new_array(3))
        for j in range(3):
            heap.array_set(top, j, arrays[j])
        native = marks(heap, [top, leaves[49]])
        loop, heap._mark_loop = heap._mark_loop, None
        python = marks(heap, [top, leaves[49]])
        heap._mark_loop = loop
    assert native == python
    assert sum(1 for h in native if h & 0x100) == 1 + 3 + 15 + 1


def test_a_stack_overflowing_its_buffer_grows(heap, monkeypatch):
    monkeypatch.setattr(marking, "INITIAL_STACK", 8)
    heap.set_mark_loop(NativeMarkLoop(heap))
    arr = heap.new_array(5000)
    with heap.handles(arr):
        for k in range(5000):
            heap.array_set(arr, k, heap.new_array(2))
        heap.collect()
        assert len(heap._mark_loop.stack) >= 5000
        assert heap.verify() == 5001


def test_a_dangling_reference_is_reported_as_the_python_loop_reports_it(heap):
    outer, inner = heap.new_box(NIL), heap.new_box(NIL)
    heap.add_root_provider(lambda: [outer])
    heap.collect()                       # inner is freed
    heap.box_set(outer, inner)
    with pytest.raises(HeapError, match=r"dangling reference 0x[0-9a-f]+ \(freed memory\) "
                                        r"in a BOX"):
        heap.collect()


def test_a_corrupt_reference_is_reported_and_leaves_no_marks(heap):
    outer = heap.new_box(NIL)
    roots = [outer]
    heap.add_root_provider(lambda: roots)
    heap.box_set(outer, REF_TAG | 0x10)
    with pytest.raises(HeapError, match="corrupt reference 0x10 in a BOX"):
        heap.collect()
    heap.box_set(outer, NIL)
    heap.collect()
    assert heap.verify() == 1


def test_the_plan_table_says_what_each_kind_traces():
    plan = [None] * 256
    plan[3] = ((1, 2), 4)
    table = plan_table(plan)
    assert (table[6], table[7]) == (0b110, 4)
    assert table[1] == marking.NOT_AN_OBJECT and table[0] == 0
    plan[4] = ((64,), 0)
    with pytest.raises(ValueError, match="do not fit"):
        plan_table(plan)


def churn(heap) -> list:
    """Objects of many sizes, two of three dropped, two collections; the kept words."""
    kept = []
    heap.add_root_provider(lambda: kept)
    for round_ in range(2):
        for k in range(600):
            if k % 3 == 0:
                word = heap.new_array(k % 40)
            elif k % 3 == 1:
                word = heap.new_box(from_fp(k))
            else:
                word = heap.new_array(1 + k % 7)
            if k % 3 != 2 and k % 2:
                kept.append(word)
        heap.collect()
        del kept[::2]
    heap.collect()
    return kept


def snapshot(heap) -> tuple:
    """The heap's state relative to its base: live objects with their headers, and each
    class's free list with the words of its blocks (poison included)."""
    base, m = heap.base, heap.mem64
    objects = [(addr - base, heap.header(word)) for word, _ in heap.objects()
               for addr in [word & ((1 << 48) - 1)]]
    lists = []
    allocator = heap._allocator
    for c, words in enumerate(SIZE_CLASS_WORDS):
        blocks, a = [], allocator.free_head[c]
        while a:
            i = (a - base) >> 3
            blocks.append((a - base, m[i], tuple(m[i + 2:i + words].tolist())))
            a = m[i + 1]
        lists.append(blocks)
    return objects, lists


def test_native_page_loops_leave_the_heap_as_the_python_loops_do():
    heaps = [native_heap(native=False), native_heap()]
    try:
        states = [(snapshot(h), len(churn(h)), snapshot(h)) for h in heaps]
        assert states[0] == states[1]
        assert states[1][0] != states[1][2]       # something was allocated and swept
    finally:
        for heap in heaps:
            heap.close()
