"""Shapes (hidden classes): where each field of an instance lives.

Every class has a root shape (no fields).  Setting a field an instance does not have yet
moves the instance from its shape to the child reached by that field name, creating the
child the first time; the child maps the name to the next slot.  So instances of a class
that gain the same fields in the same order share one shape, and a field load is "read the
shape id in the header, find the slot, load the word" — what an inline cache checks and
caches.  Because each tree belongs to one class, a shape id determines the class.

Field names are interned STRING references (tagref64 words): equal names are equal words,
so the transition and slot maps are keyed by the words themselves.  The heap keeps those
name strings alive while the class lives, and drops the whole tree (freeing its ids for
reuse) when the class dies; ids are small integers stored in instance headers (bits
32..63), so they are looked up in a list.
"""


class Shape:
    """One node of a class's transition tree."""

    __slots__ = ("id", "root", "parent", "name", "slot_of", "names", "transitions",
                 "class_addr", "tree_names", "tree_ids", "max_fields")

    def __init__(self, shape_id, root, parent, name, slot_of, names, class_addr):
        self.id = shape_id
        self.root = root if root is not None else self   # the class's root shape
        self.parent = parent                # None for a root
        self.name = name                    # the field this shape added (None for a root)
        self.slot_of = slot_of              # field name word -> slot index
        self.names = names                  # field name words in slot order
        self.transitions = {}               # field name word -> child Shape
        self.class_addr = class_addr
        # Kept on the root only: every field name and shape id in the tree, and the most
        # fields any instance of the class has had (the capacity new instances start with).
        self.tree_names = set() if root is None else None
        self.tree_ids = [shape_id] if root is None else None
        self.max_fields = 0

    @property
    def field_count(self) -> int:
        """How many fields an instance of this shape has."""
        return len(self.names)

    def __repr__(self):
        return f"Shape({self.id}, fields={len(self.names)})"


class ShapeTable:
    """Every live shape, by id; the class roots by class address."""

    def __init__(self):
        self.by_id = [None]         # id 0 is "no shape"
        self._free_ids = []
        self.roots = {}             # class address -> root Shape
        # fn(class address, name word), called when a field name first appears in a
        # class's tree (before any instance has it): what a client watches.
        self.on_new_name = None

    def __getitem__(self, shape_id: int) -> Shape:
        """The shape with this id (KeyError when none)."""
        shape = self.by_id[shape_id] if 0 < shape_id < len(self.by_id) else None
        if shape is None:
            raise KeyError(f"no shape {shape_id}")
        return shape

    def __len__(self):
        return len(self.by_id) - 1 - len(self._free_ids)

    def _new_id(self) -> int:
        if self._free_ids:
            return self._free_ids.pop()
        self.by_id.append(None)
        if len(self.by_id) > 1 << 32:
            raise MemoryError("shape ids exhausted")
        return len(self.by_id) - 1

    def new_root(self, class_addr: int) -> Shape:
        """Create the root shape of a new class."""
        shape = Shape(self._new_id(), None, None, None, {}, (), class_addr)
        self.by_id[shape.id] = shape
        self.roots[class_addr] = shape
        return shape

    def transition(self, shape: Shape, name: int) -> Shape:
        """The shape after adding field `name` to an instance of `shape` (made if new)."""
        child = shape.transitions.get(name)
        if child is None:
            slot_of = dict(shape.slot_of)
            slot_of[name] = len(shape.names)
            root = shape.root
            child = Shape(self._new_id(), root, shape, name, slot_of, shape.names + (name,),
                          shape.class_addr)
            self.by_id[child.id] = child
            shape.transitions[name] = child
            if name not in root.tree_names and self.on_new_name is not None:
                self.on_new_name(shape.class_addr, name)
            root.tree_names.add(name)
            root.tree_ids.append(child.id)
            if len(child.names) > root.max_fields:
                root.max_fields = len(child.names)
        return child

    def drop_tree(self, root: Shape) -> None:
        """Forget a dead class's shapes and recycle their ids."""
        del self.roots[root.class_addr]
        for shape_id in root.tree_ids:
            self.by_id[shape_id] = None
            self._free_ids.append(shape_id)
