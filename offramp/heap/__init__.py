"""offramp.heap: native memory, object layouts, allocation and a precise mark-sweep GC.

- layout.py     the one table of object kinds and their field offsets; the header format
- memory.py     the mmap'd reservation, word/byte access, page spans, static memory
- allocator.py  size-class pages, free lists, large spans, the sweep
- shapes.py     hidden classes: per-class transition trees keyed by field name
- heap.py       the Heap: Lox objects by tagref64 word, roots, handles, the collector
"""
from .heap import HandleScope, Heap, HeapError, HeapIndexError
from .layout import LAYOUT_TABLE, LAYOUTS, ObjKind
from .shapes import Shape, ShapeTable

__all__ = ["HandleScope", "Heap", "HeapError", "HeapIndexError", "LAYOUT_TABLE", "LAYOUTS",
           "ObjKind", "Shape", "ShapeTable"]
