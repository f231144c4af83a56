"""offramp.heap: native memory, object layouts, allocation and a precise mark-sweep GC.

- layout.py     the one table of object kinds and their field offsets; the header format
- memory.py     the mmap'd reservation, word/byte access, page spans, static memory
- allocator.py  size-class pages, free lists, large spans, the sweep
- shapes.py     hidden classes: per-class transition trees keyed by field name
- objects.py    the Lox object kinds' constructors and accessors, by tagref64 word
- heap.py       the Heap: allocation, roots, handles, the collector, stats, verify
- errors.py     HeapError and HeapIndexError (runtime bugs), OutOfMemory (the guest's)

The heap imports only offramp.ir.tagref, offramp.interp.errors (GuestError, the base of
OutOfMemory), offramp.config and offramp.trace; its roots come
from whoever registers providers, ranges and handles (the VM, the Lox runtime).
"""
from .errors import HeapError, HeapIndexError, OutOfMemory
from .heap import HandleScope, Heap
from .layout import LAYOUT_TABLE, LAYOUTS, ObjKind
from .objects import MAX_ARRAY_LENGTH
from .shapes import Shape, ShapeTable

__all__ = ["HandleScope", "Heap", "HeapError", "HeapIndexError", "LAYOUT_TABLE", "LAYOUTS",
           "MAX_ARRAY_LENGTH", "ObjKind", "OutOfMemory", "Shape", "ShapeTable"]
