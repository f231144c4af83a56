"""Memory stays bounded under a binary_trees-shaped workload; gc_stress runs real work."""
from offramp.heap.memory import PAGE_BYTES
from offramp.ir.tagref import NIL, from_fp, to_fp


class Trees:
    """The binary_trees benchmark's Tree class, built from heap calls as the runtime would."""

    def __init__(self, heap):
        self.heap = heap
        self.roots = []                             # rooted before anything is allocated
        heap.add_root_provider(lambda: self.roots)
        self.cls = heap.new_class(heap.intern("Tree"))
        self.roots.append(self.cls)
        self.names = [self.root(heap.intern(n)) for n in ("item", "depth", "left", "right")]

    def root(self, word):
        """Keep word alive for the life of the test."""
        self.roots.append(word)
        return word

    def tree(self, item, depth):
        """Tree(item, depth): an instance whose fields are set in init's order."""
        heap = self.heap
        item_name, depth_name, left, right = self.names
        node = heap.new_instance(self.cls)
        with heap.handles(node):
            heap.instance_set_field(node, item_name, from_fp(item))
            heap.instance_set_field(node, depth_name, from_fp(depth))
            if depth > 0:
                heap.instance_set_field(node, left, self.tree(2 * item - 1, depth - 1))
                heap.instance_set_field(node, right, self.tree(2 * item, depth - 1))
            else:
                heap.instance_set_field(node, left, NIL)
                heap.instance_set_field(node, right, NIL)
        return node

    def check(self, node):
        """Tree.check(): item + left.check() - right.check()."""
        heap = self.heap
        item_name, _, left, right = self.names
        item = to_fp(heap.instance_get_field(node, item_name))
        if heap.instance_get_field(node, left) == NIL:
            return item
        return item + self.check(heap.instance_get_field(node, left)) - \
            self.check(heap.instance_get_field(node, right))


def test_binary_trees_stay_bounded(make_heap):
    heap = make_heap(gc_initial_threshold=128 * 1024, gc_heap_growth=2)
    trees = Trees(heap)
    long_lived = trees.tree(0, 8)                   # 511 nodes, kept throughout
    trees.roots.append(long_lived)
    live_pages = heap.memory.pages_in_use
    total = 0
    for i in range(1, 200):
        total += trees.check(trees.tree(i, 6)) + trees.check(trees.tree(-i, 6))
    assert total == -2 * 199                        # check(Tree(i, d)) == i - 1
    assert trees.check(long_lived) == -1
    stats = heap.stats()
    assert stats["collections"] >= 10
    assert stats["bytes_allocated"] > 8 * stats["peak_committed_bytes"]
    # Live data is one tree of 511 nodes; garbage between collections is bounded by the
    # threshold (128 KiB), and pages freed by one collection are reused before new ones.
    assert stats["peak_committed_bytes"] <= live_pages * PAGE_BYTES + 512 * 1024
    trees.roots.remove(long_lived)
    heap.collect()
    # The class, its names, the method table; the static page of the allocator's words.
    assert heap.memory.pages_in_use <= 3


def test_gc_stress_runs_a_real_workload(make_heap):
    heap = make_heap(gc_stress=True)
    trees = Trees(heap)
    assert trees.check(trees.tree(3, 3)) == 2          # item - 1, as in the benchmark
    node = trees.tree(5, 4)
    with heap.handles(node):
        expected = trees.check(node)
        counter_box = heap.new_box(from_fp(0))
        with heap.handles(counter_box):
            fn = heap.new_function(heap.intern("count"), 0, 1, 1)
            closure = heap.new_closure(fn, [counter_box])
            with heap.handles(closure):
                for _ in range(20):
                    box = heap.closure_upvalue(closure, 0)
                    heap.box_set(box, from_fp(to_fp(heap.box_get(box)) + 1))
                    heap.new_array(3)                           # churn: a collection each
                assert heap.box_get(counter_box) == from_fp(20)
        assert trees.check(node) == expected
        assert heap.verify() > 31
    assert heap.stats()["collections"] > 100
