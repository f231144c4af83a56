"""Random object graphs: after a collection exactly the reachable objects survive, intact.

A program is drawn as a list of steps that create objects of every kind (their references
pointing at earlier objects), then mutate some (so later objects and cycles become
reachable), then pick roots.  A Python model records what each object should hold; the
reachable set is computed from the model alone, never from the heap.
"""
from contextlib import contextmanager

from hypothesis import HealthCheck, given, settings, strategies as st

from offramp.config import Config
from offramp.heap import Heap, ObjKind
from offramp.heap.layout import INSTANCE_FIELDS
from offramp.ir.tagref import ADDR_MASK, NIL, from_fp

NAMES = ["a", "b", "c", "d", "e", "f"]
KINDS = ["box", "array", "string", "class", "instance", "closure", "bound", "native",
         "set_box", "set_array", "set_field", "set_method"]

values = st.one_of(st.tuples(st.just("num"), st.floats(allow_nan=False)),
                   st.tuples(st.just("ref"), st.integers(0, 10_000)))
steps = st.lists(st.tuples(st.sampled_from(KINDS), st.lists(values, max_size=5),
                           st.sampled_from(NAMES), st.integers(0, 10_000), st.text(max_size=12)),
                 min_size=1, max_size=40)


class Model:
    """What the heap should hold: objects by model id, with their expected contents."""

    def __init__(self, heap, scope):
        self.heap, self.scope = heap, scope
        self.words = []             # model id -> word
        self.kinds = []             # model id -> kind name
        self.content = []           # model id -> dict of expected contents
        self.by_word = {}
        self.tree_names = {}        # class id -> field-name ids ever used on its instances

    def add(self, kind, word, **content):
        if word in self.by_word:    # interned strings come back
            return self.by_word[word]
        self.scope.add(word)
        self.by_word[word] = len(self.words)
        self.words.append(word)
        self.kinds.append(kind)
        self.content.append(content)
        return len(self.words) - 1

    def pick(self, k, kind=None):
        ids = [i for i, kd in enumerate(self.kinds) if kind is None or kd == kind]
        return ids[k % len(ids)] if ids else None

    def value(self, v):
        """(token, word) for a drawn value: ('num', word) or ('ref', model id)."""
        tag, x = v
        if tag == "num" or not self.words:
            word = from_fp(x if tag == "num" else float(x))
            return ("num", word), word
        i = self.pick(x)
        return ("ref", i), self.words[i]

    def string(self, text):
        return self.add("string", self.heap.intern(text), text=text)

    def run(self, kind, vals, name, k, text):
        heap = self.heap
        if kind == "box":
            token, word = self.value(vals[0] if vals else ("num", 0.0))
            self.add("box", heap.new_box(word), value=token)
        elif kind == "array":
            arr = heap.new_array(len(vals))
            tokens = []
            for j, v in enumerate(vals):
                token, word = self.value(v)
                heap.array_set(arr, j, word)
                tokens.append(token)
            self.add("array", arr, elements=tokens)
        elif kind == "string":
            self.string(text)
        elif kind == "class":
            n = self.string(name.upper())
            self.add("class", heap.new_class(self.words[n]), name=n, methods={})
            self.tree_names[len(self.words) - 1] = set()
        elif kind == "instance" and self.pick(k, "class") is not None:
            c = self.pick(k, "class")
            self.add("instance", heap.new_instance(self.words[c]), klass=c, fields={})
        elif kind == "closure":
            boxes = [self.pick(x, "box") for _, x in vals if not isinstance(x, float)]
            boxes = [b for b in boxes if b is not None]
            n = self.string(text)
            fn = self.add("function", heap.new_function(self.words[n], 0, k, len(boxes)),
                          name=n)
            self.add("closure", heap.new_closure(self.words[fn], [self.words[b] for b in boxes]),
                     function=fn, boxes=boxes)
        elif kind == "native":
            n = self.string(text)
            self.add("native", heap.new_native(self.words[n], 1, k), name=n)
        elif kind == "bound" and self.pick(k, "closure") is not None:
            token, word = self.value(vals[0] if vals else ("num", 1.0))
            c = self.pick(k, "closure")
            self.add("bound", heap.new_bound_method(word, self.words[c]),
                     receiver=token, method=c)
        elif kind == "set_box" and self.pick(k, "box") is not None:
            b = self.pick(k, "box")
            token, word = self.value(vals[0] if vals else ("ref", k))
            heap.box_set(self.words[b], word)
            self.content[b]["value"] = token
        elif kind == "set_array" and self.pick(k, "array") is not None:
            a = self.pick(k, "array")
            elements = self.content[a]["elements"]
            if elements:
                token, word = self.value(vals[0] if vals else ("ref", k))
                heap.array_set(self.words[a], k % len(elements), word)
                elements[k % len(elements)] = token
        elif kind == "set_field" and self.pick(k, "instance") is not None:
            i = self.pick(k, "instance")
            n = self.string(name)
            token, word = self.value(vals[0] if vals else ("ref", k))
            heap.instance_set_field(self.words[i], self.words[n], word)
            self.content[i]["fields"][n] = token
            self.tree_names[self.content[i]["klass"]].add(n)
        elif kind == "set_method" and self.pick(k, "class") is not None:
            c = self.pick(k, "class")
            n = self.string(name + "()")
            token, word = self.value(vals[0] if vals else ("ref", k))
            heap.class_set_method(self.words[c], self.words[n], word)
            self.content[c]["methods"][n] = token

    def edges(self, i):
        """Model ids object i references (what must stay alive with it)."""
        c = self.content[i]
        tokens = []
        for key in ("value", "receiver"):
            if key in c:
                tokens.append(c[key])
        tokens += c.get("elements", [])
        tokens += list(c.get("fields", {}).values()) + list(c.get("methods", {}).values())
        ids = [x for tag, x in tokens if tag == "ref"]
        for key in ("name", "klass", "function", "method"):
            if key in c:
                ids.append(c[key])
        ids += c.get("boxes", []) + list(c.get("methods", {}))
        ids += list(self.tree_names.get(i, ()))
        return ids

    def reachable(self, roots):
        seen, todo = set(), list(roots)
        while todo:
            i = todo.pop()
            if i not in seen:
                seen.add(i)
                todo.extend(self.edges(i))
        return seen

    def word_of(self, token):
        tag, x = token
        return x if tag == "num" else self.words[x]

    def check(self, i):
        """Object i holds what the model says."""
        heap, w, c = self.heap, self.words[i], self.content[i]
        kind = self.kinds[i]
        if kind == "string":
            assert heap.string_text(w) == c["text"]
        elif kind == "box":
            assert heap.box_get(w) == self.word_of(c["value"])
        elif kind == "array":
            assert [heap.array_get(w, j) for j in range(heap.array_length(w))] == \
                [self.word_of(t) for t in c["elements"]]
        elif kind == "class":
            assert heap.class_name(w) == self.words[c["name"]]
            assert sorted(heap.class_methods(w)) == sorted(
                (self.words[n], self.word_of(t)) for n, t in c["methods"].items())
        elif kind == "instance":
            assert heap.instance_class(w) == self.words[c["klass"]]
            assert dict(heap.instance_fields(w)) == {
                self.words[n]: self.word_of(t) for n, t in c["fields"].items()}
        elif kind == "function":
            assert heap.function_name(w) == self.words[c["name"]]
        elif kind == "closure":
            assert heap.closure_function(w) == self.words[c["function"]]
            assert [heap.closure_upvalue(w, j) for j in range(len(c["boxes"]))] == \
                [self.words[b] for b in c["boxes"]]
        elif kind == "native":
            assert heap.native_name(w) == self.words[c["name"]]
        elif kind == "bound":
            assert heap.bound_receiver(w) == self.word_of(c["receiver"])
            assert heap.bound_method(w) == self.words[c["method"]]


def _visible(heap):
    """Live objects of the kinds a program creates (not method tables or field storage)."""
    return {w for w, kind in heap.objects() if kind not in (ObjKind.TABLE, ObjKind.VALUES)}


def _run(heap, program, root_picks):
    roots = []
    heap.add_root_provider(lambda: roots)
    with heap.handles() as scope:
        model = Model(heap, scope)
        for step in program:
            model.run(*step)
        roots.extend(model.words[k % len(model.words)] for k in root_picks if model.words)
        roots.append(NIL)
    heap.collect()
    expected = model.reachable([model.by_word[w] for w in roots if w != NIL])
    assert _visible(heap) == {model.words[i] for i in expected}
    for i in expected:
        model.check(i)
    heap.verify()
    kinds = [kind for _, kind in heap.objects()]
    live_classes = [i for i in expected if model.kinds[i] == "class"]
    assert kinds.count(ObjKind.TABLE) == len(live_classes)
    with_storage = [i for i in expected if model.kinds[i] == "instance"
                    and heap.load64((model.words[i] & ADDR_MASK) + INSTANCE_FIELDS) != NIL]
    assert kinds.count(ObjKind.VALUES) == len(with_storage)
    assert heap.interned_count() == sum(model.kinds[i] == "string" for i in expected)
    roots.clear()
    heap.collect()
    assert list(heap.objects()) == [] and heap.interned_count() == 0 and len(heap.shapes) == 0


@contextmanager
def small_heap(**config):
    """A fresh heap per example (fixtures would be shared across examples)."""
    heap = Heap(Config(heap_reserve_bytes=1 << 26, **config), poison=True)
    try:
        yield heap
    finally:
        heap.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.lists(st.integers(0, 10_000), max_size=6))
def test_exactly_the_reachable_objects_survive(program, root_picks):
    with small_heap() as heap:
        _run(heap, program, root_picks)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.lists(st.integers(0, 10_000), max_size=6))
def test_random_graphs_under_gc_stress(program, root_picks):
    with small_heap(gc_stress=True) as heap:
        _run(heap, program, root_picks)
