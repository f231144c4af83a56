"""The heap: Lox objects in native memory, their allocation, and a precise mark-sweep GC.

Every guest value is a tagref64 word (offramp.ir.tagref); a heap object is an address in
the heap's reservation (memory.py) laid out as layout.py declares.  The Heap's API takes
and returns words: `new_*` allocate, `<kind>_<field>` read, a few setters write.  Each
accessor checks the word is a reference to a live object of the kind it expects and raises
HeapError otherwise (IndexError-compatible HeapIndexError for an index out of range): the
Lox layer turns guest mistakes into Lox errors before calling, so these checks only protect
memory from runtime bugs (a freed object has a FREE_KIND header, so a dangling reference
fails the check; with poisoning on, its other words are POISON).

Collection.  Non-moving mark-sweep, precise.  It runs only inside an allocation (the
safepoint of this layer) -- when the bytes allocated since the last collection would
exceed the threshold (then threshold = max(gc_initial_threshold, 2 x live bytes)), at every
allocation under Config.gc_stress -- or when `collect()` is called.  Roots are:
- words yielded by root providers (`add_root_provider(fn)`, fn() yields words; the
  interpreter's frames, native frames through stack maps ...);
- ranges of words in static memory (`alloc_static` + `add_root_range`: VM globals);
- handles (`with heap.handles(*words) as h:`);
- the arguments of the heap call that is allocating.
Non-reference words are ignored.  Marking follows the layout table with an explicit mark
stack.  Weak structures are then pruned: the intern table drops unmarked strings, and the
shape trees of unmarked classes are dropped (the field-name strings of live classes' trees
are kept alive by those trees).  The allocator then sweeps (allocator.py).

THE RULE for runtime code in Python: an object you created or read out of the heap and
still need after a call that may allocate (any `new_*`, `intern`, `concat`,
`instance_set_field`, `class_set_method`, `class_inherit`) must be reachable from a root
across that call -- hold it in a handle.  The heap protects the arguments of the call
itself, nothing else.  Run tests with gc_stress to find violations: a collection at every
allocation frees any unprotected object, and poisoning makes its next use fail.
"""
import time
import zlib
from array import array

from ..config import Config
from ..ir.tagref import ADDR_MASK, NIL, REF_TAG, describe as describe_word
from ..trace import Tracer
from .allocator import MAX_SMALL_WORDS, Allocator
from .layout import (
    ARRAY_ELEMENTS, ARRAY_LENGTH, BOUND_METHOD_METHOD, BOUND_METHOD_RECEIVER, BOX_VALUE,
    CLASS_METHODS, CLASS_NAME, CLASS_ROOT_SHAPE, CLOSURE_FUNCTION, CLOSURE_UPVALUE_COUNT,
    CLOSURE_UPVALUES, FREE_KIND, FUNCTION_ARITY, FUNCTION_CODE_ID, FUNCTION_NAME,
    FUNCTION_UPVALUE_COUNT, HEADER_KIND_MASK, HEADER_LOW_MASK, HEADER_MARK,
    HEADER_SHAPE_SHIFT, HEADER_SIZE_MASK, HEADER_SIZE_SHIFT, INSTANCE_FIELDS,
    INSTANCE_KLASS, LAYOUTS, MAX_OBJECT_WORDS, NATIVE_ARITY, NATIVE_NAME, NATIVE_NATIVE_ID,
    STRING_BYTES, STRING_HASH, STRING_LENGTH, TABLE_COUNT, TABLE_ENTRIES, VALUES_SLOTS,
    ObjKind, make_header, trace_plan,
)
from .memory import Memory
from .shapes import Shape, ShapeTable

STRING, FUNCTION, CLOSURE, BOX = ObjKind.STRING, ObjKind.FUNCTION, ObjKind.CLOSURE, ObjKind.BOX
CLASS, INSTANCE, BOUND_METHOD = ObjKind.CLASS, ObjKind.INSTANCE, ObjKind.BOUND_METHOD
NATIVE, ARRAY, TABLE, VALUES = ObjKind.NATIVE, ObjKind.ARRAY, ObjKind.TABLE, ObjKind.VALUES

# Word indices (byte offset / 8) of the fields the Python code touches.
_STR_HASH, _STR_LEN, _STR_BYTES = STRING_HASH >> 3, STRING_LENGTH >> 3, STRING_BYTES >> 3
_FN_NAME, _FN_ARITY = FUNCTION_NAME >> 3, FUNCTION_ARITY >> 3
_FN_CODE, _FN_UPVALS = FUNCTION_CODE_ID >> 3, FUNCTION_UPVALUE_COUNT >> 3
_CL_FN, _CL_COUNT, _CL_UPVALS = (CLOSURE_FUNCTION >> 3, CLOSURE_UPVALUE_COUNT >> 3,
                                 CLOSURE_UPVALUES >> 3)
_BOX_VALUE = BOX_VALUE >> 3
_CLS_NAME, _CLS_METHODS, _CLS_ROOT = CLASS_NAME >> 3, CLASS_METHODS >> 3, CLASS_ROOT_SHAPE >> 3
_INST_CLASS, _INST_FIELDS = INSTANCE_KLASS >> 3, INSTANCE_FIELDS >> 3
_BM_RECV, _BM_METHOD = BOUND_METHOD_RECEIVER >> 3, BOUND_METHOD_METHOD >> 3
_NAT_NAME, _NAT_ARITY, _NAT_ID = NATIVE_NAME >> 3, NATIVE_ARITY >> 3, NATIVE_NATIVE_ID >> 3
_ARR_LEN, _ARR_ELEMS = ARRAY_LENGTH >> 3, ARRAY_ELEMENTS >> 3
_TBL_COUNT, _TBL_ENTRIES = TABLE_COUNT >> 3, TABLE_ENTRIES >> 3
_VAL_SLOTS = VALUES_SLOTS >> 3

_REF_ALIGNED = REF_TAG | 7      # (w & _REF_ALIGNED) == REF_TAG: a reference, 8-aligned
_KIND_OF_ID = [None] * 256
for _k in ObjKind:
    _KIND_OF_ID[_k] = _k
_MIN_TABLE = 8
_MIN_FIELDS = 4
_RAW_LIMIT = 1 << 63


class HeapError(Exception):
    """A heap operation on the wrong kind of word, a dangling reference, or a corrupt heap."""


class HeapIndexError(HeapError, IndexError):
    """An index outside an array or closure."""


class HandleScope:
    """Words kept alive (as GC roots) until the `with` block ends; scopes nest LIFO."""

    __slots__ = ("_stack", "_base")

    def __init__(self, stack: list, base: int):
        self._stack = stack
        self._base = base

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        del self._stack[self._base:]
        return False

    def add(self, word: int) -> int:
        """Keep one more word alive in this scope; returns it."""
        self._stack.append(word)
        return word

    def __getitem__(self, k: int) -> int:
        return self._stack[self._base + k]

    def __setitem__(self, k: int, word: int) -> None:
        self._stack[self._base + k] = word


class Heap:
    """Lox objects in native memory, with allocation and garbage collection."""

    def __init__(self, config: Config | None = None, tracer: Tracer | None = None, *,
                 poison: bool | None = None):
        self.config = config = config if config is not None else Config()
        self.tracer = tracer if tracer is not None else Tracer()
        self.memory = Memory(config.heap_reserve_bytes)
        self.mem64 = self.memory.mem64
        self.base = self.memory.base
        self._b3 = self.base >> 3           # mem64 index of address a: (a >> 3) - _b3
        self._n = len(self.mem64)
        self._allocator = Allocator(self.memory)
        self.shapes = ShapeTable()
        self._shape_by_id = self.shapes.by_id   # the same list, for the hot paths
        self._interned = {}                 # text -> STRING word (weak: pruned by the GC)
        self._texts = {}                    # STRING word -> text (the same strings)
        self._handles = []
        self._providers = []
        self._ranges = []                   # (address, nwords) of static root words
        self._plan = trace_plan()
        self._stress = config.gc_stress
        self.poison = config.gc_stress if poison is None else poison
        self._initial_threshold = config.gc_initial_threshold
        self._threshold = config.gc_initial_threshold
        self._since = 0                     # bytes allocated since the last collection
        self._live = 0                      # live bytes found by the last collection
        self._collecting = False
        self._nil_fill = memoryview(array("Q", [NIL]) * 256)
        self._collections = 0
        self._allocated_before = 0          # bytes allocated before the last collection
        self._objects_freed = 0
        self._gc_seconds = 0.0

    def close(self) -> None:
        """Unmap the heap's memory; the Heap is unusable afterwards."""
        self.mem64 = None
        self.memory.close()

    # -- checking words ------------------------------------------------------------------

    def _index(self, word: int, kind: int) -> int:
        """The mem64 index of the object `word` refers to, which must be of `kind`."""
        i = ((word & ADDR_MASK) >> 3) - self._b3
        if (word & _REF_ALIGNED) == REF_TAG and 0 <= i < self._n \
                and (self.mem64[i] & HEADER_KIND_MASK) == kind:
            return i
        raise self._wrong_kind(word, kind)

    def _wrong_kind(self, word: int, expected) -> HeapError:
        """The error for a word that is not a live object of the expected kind(s)."""
        want = expected.name if isinstance(expected, ObjKind) else " or ".join(
            ObjKind(k).name for k in expected)
        if (word & _REF_ALIGNED) != REF_TAG:
            return HeapError(f"expected a {want} reference, got {describe_word(word)}")
        i = ((word & ADDR_MASK) >> 3) - self._b3
        if not 0 <= i < self._n:
            return HeapError(f"expected a {want} reference, got 0x{word & ADDR_MASK:x} "
                             "outside the heap")
        kind = self.mem64[i] & HEADER_KIND_MASK
        if kind == FREE_KIND or _KIND_OF_ID[kind] is None:
            return HeapError(f"dangling reference 0x{word & ADDR_MASK:x} (freed memory) where "
                             f"a {want} was expected")
        return HeapError(f"expected a {want} reference, got a {ObjKind(kind).name}")

    def _ref(self, i: int) -> int:
        """The reference word of the object at mem64 index i."""
        return REF_TAG | ((i + self._b3) << 3)

    def _check_raw(self, value: int, what: str) -> int:
        if not (isinstance(value, int) and 0 <= value < _RAW_LIMIT):
            raise HeapError(f"{what} must be a non-negative integer below 2**63, got {value!r}")
        return value

    def kind_of(self, word: int) -> ObjKind | None:
        """The kind of object a word refers to; None for a non-reference word."""
        if (word & REF_TAG) != REF_TAG:
            return None
        i = ((word & ADDR_MASK) >> 3) - self._b3
        if word & 7 or not 0 <= i < self._n:
            raise HeapError(f"reference 0x{word & ADDR_MASK:x} is not a heap address")
        kind = _KIND_OF_ID[self.mem64[i] & HEADER_KIND_MASK]
        if kind is None:
            raise HeapError(f"dangling reference 0x{word & ADDR_MASK:x} (freed memory)")
        return kind

    def header(self, word: int) -> int:
        """The header word of the live object `word` refers to."""
        self.kind_of(word)
        return self.mem64[((word & ADDR_MASK) >> 3) - self._b3]

    # -- allocation ----------------------------------------------------------------------

    def _alloc(self, nwords: int, header: int, protect=()) -> int:
        """Allocate an object of nwords words and write its header; its mem64 index.

        May collect first; `protect` holds the words of the caller's arguments that must
        survive.  The caller initialises every other word before its next allocation.
        """
        allocator = self._allocator
        if nwords <= MAX_SMALL_WORDS:
            c = allocator.class_of_words[nwords]
            nbytes = allocator.block_bytes[c]
            if self._since + nbytes > self._threshold or self._stress:
                self._collect("stress" if self._stress else "threshold", protect)
            self._since += nbytes
            addr = allocator.alloc_small(c)
            if not addr:
                self._collect("exhausted", protect)
                addr = allocator.alloc_small(c)
        else:
            if nwords > MAX_OBJECT_WORDS:
                raise HeapError(f"object of {nwords} words is too large")
            nbytes = allocator.large_bytes(nwords)
            if self._since + nbytes > self._threshold or self._stress:
                self._collect("stress" if self._stress else "threshold", protect)
            self._since += nbytes
            addr = allocator.alloc_large(nwords)
            if not addr:
                self._collect("exhausted", protect)
                addr = allocator.alloc_large(nwords)
        if not addr:
            raise MemoryError(f"heap reservation of {self.memory.size} bytes exhausted")
        i = (addr >> 3) - self._b3
        self.mem64[i] = header
        return i

    def _fill_nil(self, start: int, n: int) -> None:
        """Set n words from mem64 index `start` to NIL."""
        if n > len(self._nil_fill):
            self._nil_fill = memoryview(array("Q", [NIL]) * max(n, 2 * len(self._nil_fill)))
        self.mem64[start:start + n] = self._nil_fill[:n]

    def alloc_static(self, nwords: int) -> int:
        """Address of nwords zero-filled words never collected (register them as roots)."""
        return self.memory.alloc_static(nwords)

    def load64(self, addr: int) -> int:
        """The word at an absolute address."""
        return self.memory.load64(addr)

    def store64(self, addr: int, word: int) -> None:
        """Store a word at an absolute address."""
        self.memory.store64(addr, word)

    # -- roots ---------------------------------------------------------------------------

    def add_root_provider(self, provider) -> None:
        """Register fn() -> iterable of words, called at each collection for roots."""
        self._providers.append(provider)

    def remove_root_provider(self, provider) -> None:
        """Unregister a root provider."""
        self._providers.remove(provider)

    def add_root_range(self, addr: int, nwords: int) -> None:
        """Treat nwords words of static memory from addr as roots."""
        self.memory.index(addr)
        if nwords:
            self.memory.index(addr + 8 * (nwords - 1))
        self._ranges.append((addr, nwords))

    def remove_root_range(self, addr: int, nwords: int) -> None:
        """Unregister a root range."""
        self._ranges.remove((addr, nwords))

    def handles(self, *words: int) -> HandleScope:
        """`with heap.handles(a, b) as h:` keeps a, b (and h.add(x)) alive until the end."""
        stack = self._handles
        scope = HandleScope(stack, len(stack))
        stack.extend(words)
        return scope

    # -- collection ----------------------------------------------------------------------

    def collect(self, reason: str = "explicit") -> None:
        """Run a full collection now."""
        self._collect(reason, ())

    def _collect(self, reason: str, protect) -> None:
        """Mark from every root, prune the weak tables, sweep; update threshold and stats."""
        if self._collecting:
            raise HeapError("allocation during a collection (a root provider allocated?)")
        self._collecting = True
        start = time.perf_counter()
        try:
            before = self._live + self._since
            stack = []
            self._grey(protect, stack)
            self._grey(self._handles, stack)
            for provider in self._providers:
                self._grey(provider(), stack)
            m, b3 = self.mem64, self._b3
            for addr, nwords in self._ranges:
                i = (addr >> 3) - b3
                self._grey(m[i:i + nwords].tolist(), stack)
            self._drain(stack)
            self._mark_shape_trees()
            self._prune_interned()
            freed, live, pages_freed = self._allocator.sweep(self.poison)
        finally:
            self._collecting = False
        self._collections += 1
        self._allocated_before += self._since
        self._since = 0
        self._live = live
        self._threshold = max(self._initial_threshold, 2 * live)
        self._objects_freed += freed
        self._gc_seconds += time.perf_counter() - start
        if self.tracer.on("gc"):
            self.tracer.emit("gc", f"collection {self._collections} ({reason}): live bytes "
                                   f"{before} -> {live}, {freed} objects freed, "
                                   f"{pages_freed} pages released, "
                                   f"{self.memory.committed_bytes} bytes committed")

    def _grey(self, words, stack: list) -> None:
        """Mark the unmarked objects among `words` and push them on the mark stack."""
        m, b3, n, plan = self.mem64, self._b3, self._n, self._plan
        for w in words:
            if (w & REF_TAG) == REF_TAG:
                i = ((w & ADDR_MASK) >> 3) - b3
                if w & 7 or not 0 <= i < n:
                    raise HeapError(f"corrupt reference 0x{w & ADDR_MASK:x} while marking")
                h = m[i]
                if not h & HEADER_MARK:
                    if plan[h & HEADER_KIND_MASK] is None:
                        raise HeapError(f"dangling reference 0x{w & ADDR_MASK:x} (freed "
                                        "memory) reached while marking")
                    m[i] = h | HEADER_MARK
                    stack.append(i)

    def _drain(self, stack: list) -> None:
        """Trace marked objects until the mark stack is empty (no recursion)."""
        m, plan, grey = self.mem64, self._plan, self._grey
        while stack:
            i = stack.pop()
            h = m[i]
            fixed, tail = plan[h & HEADER_KIND_MASK]
            children = [m[i + k] for k in fixed]
            if tail:
                children += m[i + tail:i + ((h >> HEADER_SIZE_SHIFT) & HEADER_SIZE_MASK)].tolist()
            grey(children, stack)

    def _mark_shape_trees(self) -> None:
        """Keep the field names of live classes' shape trees; drop dead classes' trees."""
        m, b3 = self.mem64, self._b3
        stack = []
        for class_addr, root in list(self.shapes.roots.items()):
            if m[(class_addr >> 3) - b3] & HEADER_MARK:
                self._grey(root.tree_names, stack)
            else:
                self.shapes.drop_tree(root)
        self._drain(stack)

    def _prune_interned(self) -> None:
        """Drop unmarked strings from the (weak) intern table."""
        m, b3 = self.mem64, self._b3
        dead = [w for w in self._texts if not m[((w & ADDR_MASK) >> 3) - b3] & HEADER_MARK]
        texts, interned = self._texts, self._interned
        for w in dead:
            del interned[texts.pop(w)]

    def stats(self) -> dict:
        """Counters for --stats."""
        return {
            "collections": self._collections,
            "bytes_allocated": self._allocated_before + self._since,
            "live_bytes": self._live + self._since,
            "live_bytes_after_last_gc": self._live,
            "objects_freed": self._objects_freed,
            "committed_bytes": self.memory.committed_bytes,
            "peak_committed_bytes": self.memory.peak_committed_bytes,
            "pages": self.memory.pages_in_use,
            "static_bytes": self.memory.static_bytes,
            "interned_strings": len(self._texts),
            "shapes": len(self.shapes),
            "gc_seconds": round(self._gc_seconds, 6),
        }

    # -- strings -------------------------------------------------------------------------

    def intern(self, text: str) -> int:
        """The one STRING with this content (allocated on first use)."""
        word = self._interned.get(text)
        if word is not None:
            return word
        data = text.encode("utf-8", "surrogatepass")
        n = len(data)
        nwords = _STR_BYTES + ((n + 7) >> 3)
        i = self._alloc(nwords, make_header(STRING, nwords))
        m = self.mem64
        m[i + _STR_HASH] = zlib.crc32(data)
        m[i + _STR_LEN] = n
        if n:
            m[i + nwords - 1] = 0                   # zero the padding of the last word
            off = (i + _STR_BYTES) << 3
            self.memory.mem8[off:off + n] = data
        word = self._ref(i)
        self._interned[text] = word
        self._texts[word] = text
        return word

    def string_text(self, word: int) -> str:
        """The text of a STRING."""
        text = self._texts.get(word)
        if text is None:
            raise self._wrong_kind(word, STRING)
        return text

    def string_hash(self, word: int) -> int:
        """The stored hash of a STRING (crc32 of its UTF-8 bytes)."""
        return self.mem64[self._index(word, STRING) + _STR_HASH]

    def string_length(self, word: int) -> int:
        """The length of a STRING in UTF-8 bytes."""
        return self.mem64[self._index(word, STRING) + _STR_LEN]

    def string_bytes(self, word: int) -> bytes:
        """The UTF-8 bytes of a STRING, read from memory (what native code sees)."""
        i = self._index(word, STRING)
        off = (i + _STR_BYTES) << 3
        return bytes(self.memory.mem8[off:off + self.mem64[i + _STR_LEN]])

    def concat(self, a: int, b: int) -> int:
        """The interned concatenation of two STRINGs."""
        return self.intern(self.string_text(a) + self.string_text(b))

    def interned_count(self) -> int:
        """How many strings the intern table holds."""
        return len(self._texts)

    # -- functions, closures, boxes ------------------------------------------------------

    def new_function(self, name: int, arity: int, code_id: int, upvalue_count: int) -> int:
        """A FUNCTION; name is a STRING or NIL (the top-level script)."""
        if name != NIL:
            self._index(name, STRING)
        self._check_raw(arity, "arity")
        self._check_raw(code_id, "code_id")
        self._check_raw(upvalue_count, "upvalue_count")
        i = self._alloc(5, make_header(FUNCTION, 5), (name,))
        m = self.mem64
        m[i + _FN_NAME] = name
        m[i + _FN_ARITY] = arity
        m[i + _FN_CODE] = code_id
        m[i + _FN_UPVALS] = upvalue_count
        return self._ref(i)

    def function_name(self, fn: int) -> int:
        """A FUNCTION's name (STRING or NIL)."""
        return self.mem64[self._index(fn, FUNCTION) + _FN_NAME]

    def function_arity(self, fn: int) -> int:
        """A FUNCTION's parameter count."""
        return self.mem64[self._index(fn, FUNCTION) + _FN_ARITY]

    def function_code_id(self, fn: int) -> int:
        """The runtime's id for a FUNCTION's code."""
        return self.mem64[self._index(fn, FUNCTION) + _FN_CODE]

    def function_upvalue_count(self, fn: int) -> int:
        """How many variables a FUNCTION's closures capture."""
        return self.mem64[self._index(fn, FUNCTION) + _FN_UPVALS]

    def new_box(self, value: int) -> int:
        """A BOX holding value (a captured variable)."""
        i = self._alloc(2, make_header(BOX, 2), (value,))
        self.mem64[i + _BOX_VALUE] = value
        return self._ref(i)

    def box_get(self, box: int) -> int:
        """The value in a BOX."""
        m = self.mem64
        i = ((box & ADDR_MASK) >> 3) - self._b3
        if (box & _REF_ALIGNED) != REF_TAG or not 0 <= i < self._n \
                or (m[i] & HEADER_KIND_MASK) != BOX:
            raise self._wrong_kind(box, BOX)
        return m[i + _BOX_VALUE]

    def box_set(self, box: int, value: int) -> None:
        """Store value in a BOX."""
        m = self.mem64
        i = ((box & ADDR_MASK) >> 3) - self._b3
        if (box & _REF_ALIGNED) != REF_TAG or not 0 <= i < self._n \
                or (m[i] & HEADER_KIND_MASK) != BOX:
            raise self._wrong_kind(box, BOX)
        m[i + _BOX_VALUE] = value

    def new_closure(self, fn: int, upvalues=()) -> int:
        """A CLOSURE of FUNCTION fn capturing the given BOXes (as many as fn declares)."""
        count = len(upvalues)
        if self.mem64[self._index(fn, FUNCTION) + _FN_UPVALS] != count:
            raise HeapError(f"function captures {self.function_upvalue_count(fn)} variables, "
                            f"given {count}")
        for box in upvalues:
            self._index(box, BOX)
        nwords = _CL_UPVALS + count
        i = self._alloc(nwords, make_header(CLOSURE, nwords), (fn, *upvalues))
        m = self.mem64
        m[i + _CL_FN] = fn
        m[i + _CL_COUNT] = count
        if count:
            m[i + _CL_UPVALS:i + nwords] = array("Q", upvalues)
        return self._ref(i)

    def closure_function(self, closure: int) -> int:
        """The FUNCTION of a CLOSURE."""
        m = self.mem64
        i = ((closure & ADDR_MASK) >> 3) - self._b3
        if (closure & _REF_ALIGNED) != REF_TAG or not 0 <= i < self._n \
                or (m[i] & HEADER_KIND_MASK) != CLOSURE:
            raise self._wrong_kind(closure, CLOSURE)
        return m[i + _CL_FN]

    def closure_upvalue_count(self, closure: int) -> int:
        """How many BOXes a CLOSURE holds."""
        return self.mem64[self._index(closure, CLOSURE) + _CL_COUNT]

    def closure_upvalue(self, closure: int, k: int) -> int:
        """The k-th captured BOX of a CLOSURE."""
        m = self.mem64
        i = ((closure & ADDR_MASK) >> 3) - self._b3
        if (closure & _REF_ALIGNED) != REF_TAG or not 0 <= i < self._n \
                or (m[i] & HEADER_KIND_MASK) != CLOSURE:
            raise self._wrong_kind(closure, CLOSURE)
        if not 0 <= k < m[i + _CL_COUNT]:
            raise HeapIndexError(f"upvalue {k} of a closure with {m[i + _CL_COUNT]}")
        return m[i + _CL_UPVALS + k]

    # -- natives -------------------------------------------------------------------------

    def new_native(self, name: int, arity: int, native_id: int) -> int:
        """A NATIVE function; native_id names its implementation in the runtime."""
        self._index(name, STRING)
        self._check_raw(arity, "arity")
        self._check_raw(native_id, "native_id")
        i = self._alloc(4, make_header(NATIVE, 4), (name,))
        m = self.mem64
        m[i + _NAT_NAME] = name
        m[i + _NAT_ARITY] = arity
        m[i + _NAT_ID] = native_id
        return self._ref(i)

    def native_name(self, native: int) -> int:
        """A NATIVE's name (STRING)."""
        return self.mem64[self._index(native, NATIVE) + _NAT_NAME]

    def native_arity(self, native: int) -> int:
        """A NATIVE's parameter count."""
        return self.mem64[self._index(native, NATIVE) + _NAT_ARITY]

    def native_id(self, native: int) -> int:
        """The runtime's id for a NATIVE's implementation."""
        return self.mem64[self._index(native, NATIVE) + _NAT_ID]

    # -- tables (class method tables) ----------------------------------------------------

    def _new_table(self, capacity: int, protect) -> int:
        """A TABLE with `capacity` (a power of two) empty entries; its mem64 index."""
        nwords = _TBL_ENTRIES + 2 * capacity
        i = self._alloc(nwords, make_header(TABLE, nwords), protect)
        self.mem64[i + _TBL_COUNT] = 0
        self._fill_nil(i + _TBL_ENTRIES, 2 * capacity)
        return i

    def _table_slot(self, t: int, key: int) -> int:
        """mem64 index of key's entry in the TABLE at index t, or of the empty entry for it."""
        m = self.mem64
        mask = ((((m[t] >> HEADER_SIZE_SHIFT) & HEADER_SIZE_MASK) - _TBL_ENTRIES) >> 1) - 1
        j = m[((key & ADDR_MASK) >> 3) - self._b3 + _STR_HASH] & mask
        entries = t + _TBL_ENTRIES
        while True:
            k = m[entries + 2 * j]
            if k == key or k == NIL:
                return entries + 2 * j
            j = (j + 1) & mask

    def _table_entries(self, t: int) -> list:
        """The (key, value) pairs of the TABLE at index t."""
        m = self.mem64
        size = (m[t] >> HEADER_SIZE_SHIFT) & HEADER_SIZE_MASK
        words = m[t + _TBL_ENTRIES:t + size].tolist()
        return [(words[j], words[j + 1]) for j in range(0, len(words), 2) if words[j] != NIL]

    # -- classes -------------------------------------------------------------------------

    def new_class(self, name: int) -> int:
        """A CLASS with no methods, and the root shape of its instances."""
        self._index(name, STRING)
        i = self._alloc(4, make_header(CLASS, 4), (name,))
        m = self.mem64
        m[i + _CLS_NAME] = name
        m[i + _CLS_METHODS] = NIL
        cls = self._ref(i)
        m[i + _CLS_ROOT] = self.shapes.new_root(cls & ADDR_MASK).id
        t = self._new_table(_MIN_TABLE, (cls,))
        m[i + _CLS_METHODS] = self._ref(t)
        return cls

    def class_name(self, cls: int) -> int:
        """A CLASS's name (STRING)."""
        return self.mem64[self._index(cls, CLASS) + _CLS_NAME]

    def class_root_shape(self, cls: int) -> Shape:
        """The root shape of a CLASS's instances."""
        return self._shape_by_id[self.mem64[self._index(cls, CLASS) + _CLS_ROOT]]

    def class_find_method(self, cls: int, name: int) -> int | None:
        """The method a CLASS has under name (a STRING), or None."""
        m = self.mem64
        i = self._index(cls, CLASS)
        self._index(name, STRING)
        slot = self._table_slot(((m[i + _CLS_METHODS] & ADDR_MASK) >> 3) - self._b3, name)
        return m[slot + 1] if m[slot] == name else None

    def class_set_method(self, cls: int, name: int, method: int) -> None:
        """Define (or redefine) a CLASS's method under name; method may be any value."""
        m = self.mem64
        i = self._index(cls, CLASS)
        self._index(name, STRING)
        t = ((m[i + _CLS_METHODS] & ADDR_MASK) >> 3) - self._b3
        slot = self._table_slot(t, name)
        if m[slot] != name:
            count = m[t + _TBL_COUNT]
            capacity = (((m[t] >> HEADER_SIZE_SHIFT) & HEADER_SIZE_MASK) - _TBL_ENTRIES) >> 1
            if 4 * (count + 1) > 3 * capacity:
                t = self._grow_methods(i, t, capacity, (cls, name, method))
                slot = self._table_slot(t, name)
            m[t + _TBL_COUNT] += 1
            m[slot] = name
        m[slot + 1] = method

    def _grow_methods(self, i: int, t: int, capacity: int, protect) -> int:
        """Replace the method TABLE of the CLASS at index i by one twice as big."""
        new = self._new_table(2 * capacity, protect)
        m = self.mem64
        for key, value in self._table_entries(t):
            slot = self._table_slot(new, key)
            m[slot] = key
            m[slot + 1] = value
        m[new + _TBL_COUNT] = m[t + _TBL_COUNT]
        m[i + _CLS_METHODS] = self._ref(new)
        return new

    def class_methods(self, cls: int) -> list:
        """A CLASS's (name, method) pairs, in table order."""
        i = self._index(cls, CLASS)
        return self._table_entries(((self.mem64[i + _CLS_METHODS] & ADDR_MASK) >> 3) - self._b3)

    def class_inherit(self, sub: int, sup: int) -> None:
        """Copy every method of CLASS sup into CLASS sub (clox's inheritance)."""
        self._index(sub, CLASS)
        with self.handles(sub, sup):
            for name, method in self.class_methods(sup):
                self.class_set_method(sub, name, method)

    # -- instances -----------------------------------------------------------------------

    def new_instance(self, cls: int) -> int:
        """An INSTANCE of CLASS cls with no fields (storage sized for the class's usual)."""
        m = self.mem64
        root_id = m[self._index(cls, CLASS) + _CLS_ROOT]
        i = self._alloc(3, make_header(INSTANCE, 3, root_id), (cls,))
        m[i + _INST_CLASS] = cls
        m[i + _INST_FIELDS] = NIL
        inst = self._ref(i)
        capacity = self._shape_by_id[root_id].max_fields
        if capacity:
            m[i + _INST_FIELDS] = self._new_values(capacity, (inst,))
        return inst

    def _new_values(self, capacity: int, protect) -> int:
        """A VALUES object of `capacity` NIL slots; its reference."""
        nwords = _VAL_SLOTS + capacity
        i = self._alloc(nwords, make_header(VALUES, nwords), protect)
        self._fill_nil(i + _VAL_SLOTS, capacity)
        return self._ref(i)

    def instance_class(self, inst: int) -> int:
        """The CLASS of an INSTANCE."""
        return self.mem64[self._index(inst, INSTANCE) + _INST_CLASS]

    def instance_shape(self, inst: int) -> Shape:
        """The current shape of an INSTANCE."""
        return self._shape_by_id[self.mem64[self._index(inst, INSTANCE)] >> HEADER_SHAPE_SHIFT]

    def instance_shape_id(self, inst: int) -> int:
        """The shape id in an INSTANCE's header (what an inline cache compares)."""
        return self.mem64[self._index(inst, INSTANCE)] >> HEADER_SHAPE_SHIFT

    def instance_get_field(self, inst: int, name: int) -> int | None:
        """An INSTANCE's field called name (a STRING), or None when it has none."""
        m = self.mem64
        i = ((inst & ADDR_MASK) >> 3) - self._b3
        if (inst & _REF_ALIGNED) != REF_TAG or not 0 <= i < self._n \
                or ((h := m[i]) & HEADER_KIND_MASK) != INSTANCE:
            raise self._wrong_kind(inst, INSTANCE)
        slot = self._shape_by_id[h >> HEADER_SHAPE_SHIFT].slot_of.get(name)
        if slot is None:
            return None
        return m[((m[i + _INST_FIELDS] & ADDR_MASK) >> 3) - self._b3 + _VAL_SLOTS + slot]

    def instance_set_field(self, inst: int, name: int, value: int) -> None:
        """Set an INSTANCE's field called name (a STRING), adding it if new."""
        m = self.mem64
        i = ((inst & ADDR_MASK) >> 3) - self._b3
        if (inst & _REF_ALIGNED) != REF_TAG or not 0 <= i < self._n \
                or ((h := m[i]) & HEADER_KIND_MASK) != INSTANCE:
            raise self._wrong_kind(inst, INSTANCE)
        shape = self._shape_by_id[h >> HEADER_SHAPE_SHIFT]
        slot = shape.slot_of.get(name)
        if slot is None:
            self._add_field(i, shape, inst, name, value)
            return
        m[((m[i + _INST_FIELDS] & ADDR_MASK) >> 3) - self._b3 + _VAL_SLOTS + slot] = value

    def _add_field(self, i: int, shape: Shape, inst: int, name: int, value: int) -> None:
        """Move the INSTANCE at index i to the shape with field `name`, storing value."""
        self._index(name, STRING)
        m = self.mem64
        child = self.shapes.transition(shape, name)
        slot = len(shape.names)
        fields = m[i + _INST_FIELDS]
        capacity = 0 if fields == NIL else (
            (m[((fields & ADDR_MASK) >> 3) - self._b3] >> HEADER_SIZE_SHIFT) & HEADER_SIZE_MASK
        ) - _VAL_SLOTS
        if slot >= capacity:
            grown = self._new_values(max(_MIN_FIELDS, 2 * capacity, child.root.max_fields),
                                     (inst, name, value))
            if capacity:
                old = ((fields & ADDR_MASK) >> 3) - self._b3 + _VAL_SLOTS
                new = ((grown & ADDR_MASK) >> 3) - self._b3 + _VAL_SLOTS
                m[new:new + capacity] = m[old:old + capacity]
            m[i + _INST_FIELDS] = fields = grown
        m[((fields & ADDR_MASK) >> 3) - self._b3 + _VAL_SLOTS + slot] = value
        m[i] = (m[i] & HEADER_LOW_MASK) | (child.id << HEADER_SHAPE_SHIFT)

    def instance_fields(self, inst: int) -> list:
        """An INSTANCE's (name, value) pairs in slot order."""
        return [(name, self.instance_get_field(inst, name))
                for name in self.instance_shape(inst).names]

    # -- bound methods -------------------------------------------------------------------

    def new_bound_method(self, receiver: int, method: int) -> int:
        """A BOUND_METHOD binding method (a CLOSURE or NATIVE) to receiver."""
        kind = self.kind_of(method)
        if kind is not CLOSURE and kind is not NATIVE:
            raise self._wrong_kind(method, (CLOSURE, NATIVE))
        i = self._alloc(3, make_header(BOUND_METHOD, 3), (receiver, method))
        m = self.mem64
        m[i + _BM_RECV] = receiver
        m[i + _BM_METHOD] = method
        return self._ref(i)

    def bound_receiver(self, bound: int) -> int:
        """The receiver of a BOUND_METHOD."""
        return self.mem64[self._index(bound, BOUND_METHOD) + _BM_RECV]

    def bound_method(self, bound: int) -> int:
        """The method (CLOSURE or NATIVE) of a BOUND_METHOD."""
        return self.mem64[self._index(bound, BOUND_METHOD) + _BM_METHOD]

    # -- arrays --------------------------------------------------------------------------

    def new_array(self, length: int) -> int:
        """An ARRAY of `length` NILs."""
        self._check_raw(length, "array length")
        nwords = _ARR_ELEMS + length
        if nwords > MAX_OBJECT_WORDS:
            raise HeapError(f"array of {length} elements is too large")
        i = self._alloc(nwords, make_header(ARRAY, nwords))
        self.mem64[i + _ARR_LEN] = length
        self._fill_nil(i + _ARR_ELEMS, length)
        return self._ref(i)

    def array_length(self, arr: int) -> int:
        """The number of elements of an ARRAY."""
        return self.mem64[self._index(arr, ARRAY) + _ARR_LEN]

    def array_get(self, arr: int, k: int) -> int:
        """Element k of an ARRAY."""
        m = self.mem64
        i = ((arr & ADDR_MASK) >> 3) - self._b3
        if (arr & _REF_ALIGNED) != REF_TAG or not 0 <= i < self._n \
                or (m[i] & HEADER_KIND_MASK) != ARRAY:
            raise self._wrong_kind(arr, ARRAY)
        if not 0 <= k < m[i + _ARR_LEN]:
            raise HeapIndexError(f"index {k} outside an array of {m[i + _ARR_LEN]}")
        return m[i + _ARR_ELEMS + k]

    def array_set(self, arr: int, k: int, value: int) -> None:
        """Store value as element k of an ARRAY."""
        m = self.mem64
        i = ((arr & ADDR_MASK) >> 3) - self._b3
        if (arr & _REF_ALIGNED) != REF_TAG or not 0 <= i < self._n \
                or (m[i] & HEADER_KIND_MASK) != ARRAY:
            raise self._wrong_kind(arr, ARRAY)
        if not 0 <= k < m[i + _ARR_LEN]:
            raise HeapIndexError(f"index {k} outside an array of {m[i + _ARR_LEN]}")
        m[i + _ARR_ELEMS + k] = value

    # -- whole-heap views (tests, debugger, dumps) ---------------------------------------

    def objects(self):
        """(reference word, kind) of every allocated object, dead or alive until swept."""
        for addr in self._allocator.objects():
            yield REF_TAG | addr, ObjKind(self.mem64[(addr >> 3) - self._b3] & HEADER_KIND_MASK)

    def children(self, word: int) -> list:
        """The traced words of an object (what the GC follows from it), in layout order."""
        self.kind_of(word)
        m = self.mem64
        i = ((word & ADDR_MASK) >> 3) - self._b3
        h = m[i]
        fixed, tail = self._plan[h & HEADER_KIND_MASK]
        words = [m[i + k] for k in fixed]
        if tail:
            words += m[i + tail:i + ((h >> HEADER_SIZE_SHIFT) & HEADER_SIZE_MASK)].tolist()
        return words

    def describe(self, word: int) -> str:
        """A short human-readable form of any word."""
        kind = self.kind_of(word)
        if kind is None:
            return describe_word(word)
        if kind is STRING:
            return repr(self.string_text(word))
        named = {FUNCTION: self.function_name, CLASS: self.class_name, NATIVE: self.native_name}
        if kind in named:
            name = named[kind](word)
            return f"<{kind.name.lower()} {self.string_text(name) if name != NIL else 'script'}>"
        return f"<{kind.name.lower()} 0x{word & ADDR_MASK:x}>"

    def verify(self) -> int:
        """Check every object's header and references; the number of objects checked."""
        m = self.mem64
        count = 0
        for word, kind in self.objects():
            i = ((word & ADDR_MASK) >> 3) - self._b3
            h = m[i]
            if h & HEADER_MARK:
                raise HeapError(f"{self.describe(word)}: mark bit set outside a collection")
            size = (h >> HEADER_SIZE_SHIFT) & HEADER_SIZE_MASK
            if size < LAYOUTS[kind].fixed_words:
                raise HeapError(f"{self.describe(word)}: size {size} below its layout")
            for child in self.children(word):
                try:
                    self.kind_of(child)
                except HeapError:
                    raise HeapError(f"{self.describe(word)} holds a bad reference "
                                    f"{describe_word(child)}") from None
            if kind is INSTANCE:
                shape = self._shape_by_id[h >> HEADER_SHAPE_SHIFT]
                if shape is None or shape.class_addr != m[i + _INST_CLASS] & ADDR_MASK:
                    raise HeapError(f"{self.describe(word)}: shape does not match its class")
            count += 1
        return count
