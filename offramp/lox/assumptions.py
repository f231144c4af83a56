"""The Lox client's assumptions (runtime/assumptions.py) and the writes that break them.

| kind     | key                           | assumed when                  | broken by                |
|----------|-------------------------------|-------------------------------|--------------------------|
| global   | ("global", NAME)              | the global holds a function   | any write of the global: |
|          |                               | or class now                  | `lox.set_global`,        |
|          |                               |                               | `lox.define_global`      |
| unwatched| ("unwatched", NAME)           | compiled code stores to the   | watching the global      |
|          |                               | global plainly                | (below)                  |
| method   | ("method", CLASS, NAME)       | no instance of the class has  | the first instance of    |
|          |                               | ever had a field NAME         | the class to get a field |
|          |                               |                               | NAME (a new shape edge)  |
| breakpoint| ("breakpoint", LINE)         | (`offramp debug`) no          | arming it                |
|          |                               | breakpoint is armed at LINE:  | (runtime/breakpoints.py) |
|          |                               | its site is left out          |                          |

A call of a global function (`f(x)`) or class (`K(x)`) then calls it with no check of the
callee, and `obj.m()` on instances of one class checks the class, not every shape an
instance of it may have, and no field.

Watching a global.  Compiled code stores to a global with a plain STORE, relying on
("unwatched", NAME): the global is not watched.  To start watching it (the first time a
version assumes it keeps its value) the runtime breaks ("unwatched", NAME) — every version
storing to it plainly is dropped, and their running activations leave at their next
return or poll — and sets the global's watch word (`lox.watch.NAME`), all with every
other thread stopped (a stop-the-world of kind "watch"), so that no plain store to it
runs afterwards.  From then on compiled code stores to it through `lox.set_global`, which
breaks the assumption.  A broken global is never assumed again: it is unwatched for good,
and stores to it are plain again, relying on nothing.

Watching a method: a class's fields only ever appear by a new edge of its shape tree
(heap/shapes.py; compiled code adds fields only along edges that exist), so the heap's
hook for a field name new to a class's tree breaks ("method", CLASS, NAME).
"""
from ..heap import ObjKind
from ..ir import tagref

GLOBAL_PREFIX, WATCH_PREFIX = "lox.global.", "lox.watch."


def watch_global(name: str) -> str:
    """The IR global holding Lox global `name`'s watch word."""
    return WATCH_PREFIX + name


class LoxAssumptions:
    """The runtime's side: which globals are watched, and the hooks that break."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.vm = runtime.vm
        self.watched = {}          # cell address -> Lox global name
        self.vm.heap.shapes.on_new_name = self._new_field_name
        self.vm.assumptions.describe = self.describe

    def describe(self, key) -> str:
        """global(f), method(Point.norm): as the trace prints a key."""
        if key[0] in ("global", "unwatched"):
            return f"{key[0]}({key[1]})"
        if key[0] == "breakpoint":
            return f"no breakpoint at line {key[1]}"
        heap = self.vm.heap
        class_name = heap.string_text(heap.class_name(tagref.from_ref(key[1])))
        return f"method({class_name}.{heap.string_text(key[2])})"

    # --- globals --------------------------------------------------------------------------

    def constant_global(self, cell_symbol: str):
        """The function or class a global holds now, when compiled code may assume it
        keeps it (the key is then watched), else None."""
        if not cell_symbol.startswith(GLOBAL_PREFIX):
            return None
        name = cell_symbol[len(GLOBAL_PREFIX):]
        key = ("global", name)
        if not (self.vm.assumptions.holds(key) and self._callable(cell_symbol)):
            return None
        cell = self.vm.global_address(cell_symbol)
        if cell not in self.watched:
            self.watched[cell] = name
            self.vm.threads.stop_the_world(lambda: self._watch(name), "watch")
        word = self.vm.read_global(cell_symbol)      # as of the watch: no write slips by
        return (key, word) if self._callable(cell_symbol) else None

    def _watch(self, name: str) -> None:
        """With the world stopped: drop the code storing to the global plainly, then set
        its watch word (lox.set_global breaks what is assumed of it from now on)."""
        self.vm.assumptions.break_(("unwatched", name), f"'{name}' is watched now")
        self.vm.write_global(watch_global(name), 1)

    def unwatched_store(self, cell_symbol: str):
        """What a plain STORE to a global relies on: the key ("unwatched", NAME); None
        when nothing (the global can never be watched again); False when the global is
        watched now (the store must go through lox.set_global)."""
        name = cell_symbol[len(GLOBAL_PREFIX):]
        if self.vm.global_address(cell_symbol) in self.watched:
            return False
        if not self.vm.assumptions.holds(("global", name)):
            return None
        key = ("unwatched", name)
        return key if self.vm.assumptions.holds(key) else False

    def _callable(self, cell_symbol: str) -> bool:
        word = self.vm.read_global(cell_symbol)
        return tagref.is_ref(word) and \
            self.vm.heap.kind_of(word) in (ObjKind.CLOSURE, ObjKind.CLASS)

    def written(self, cell: int) -> None:
        """A global was written by the runtime: break its assumption if it is watched."""
        name = self.watched.pop(cell, None)
        if name is not None:
            self.vm.write_global(watch_global(name), 0)
            self.vm.assumptions.break_(("global", name), f"'{name}' assigned")

    # --- methods --------------------------------------------------------------------------

    def unshadowed_method(self, class_word: int, name: int):
        """The key "no instance of this class has a field `name`", when it may be assumed."""
        key = ("method", tagref.to_ref(class_word), name)
        root = self.vm.heap.shapes.roots.get(tagref.to_ref(class_word))
        if root is None or name in root.tree_names or not self.vm.assumptions.holds(key):
            return None
        return key

    def _new_field_name(self, class_addr: int, name: int) -> None:
        key = ("method", class_addr, name)
        if key in self.vm.assumptions.dependents:
            text = self.vm.heap.string_text(name)
            self.vm.assumptions.break_(key, f"a field '{text}' shadows the method")
