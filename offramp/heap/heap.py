"""The heap: Lox objects in native memory, their allocation, and a precise mark-sweep GC.

Every guest value is a tagref64 word (offramp.ir.tagref); a heap object is an address in
the heap's reservation (memory.py) laid out as layout.py declares.  The Heap's API takes
and returns words: `new_*` allocate, `<kind>_<field>` read, a few setters write (those
live in objects.py, mixed in; this module is the memory-management half).  Each
accessor checks the word is a reference to a live object of the kind it expects and raises
HeapError otherwise (IndexError-compatible HeapIndexError for an index out of range): the
Lox layer turns guest mistakes into Lox errors before calling, so these checks only protect
memory from runtime bugs (a freed object has a FREE_KIND header, so a dangling reference
fails the check; with poisoning on, its other words are POISON).

Collection.  Non-moving mark-sweep, precise.  It runs only inside an allocation (the
safepoint of this layer) -- when the bytes allocated since the last collection would
exceed the threshold (then threshold = max(gc_initial_threshold, gc_heap_growth x live
bytes)), at every allocation under Config.gc_stress -- or when `collect()` is called.
Roots are:
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
import ctypes
import time
from array import array

from ..config import Config
from ..ir.tagref import ADDR_MASK, NIL, REF_TAG, describe as describe_word
from ..trace import Tracer
from .allocator import MAX_SMALL_WORDS, SIZE_CLASS_WORDS, Allocator
from .errors import HeapError, HeapIndexError, OutOfMemory
from .layout import (
    FREE_KIND, HEADER_KIND_MASK, HEADER_MARK, HEADER_SHAPE_SHIFT, HEADER_SIZE_MASK,
    HEADER_SIZE_SHIFT, INSTANCE_KLASS, LAYOUTS, MAX_OBJECT_WORDS, ObjKind, trace_plan,
)
from .memory import Memory
from .objects import LoxObjects
from .shapes import ShapeTable

__all__ = ["Heap", "HandleScope", "HeapError", "HeapIndexError", "OutOfMemory"]

SINCE, LIMIT = 0, 1       # indexes of the heap's static GC words
# A thread's allocation buffer (Heap.add_allocation_buffer), word indexes: the bytes it
# allocated since the heap last counted them, its byte limit, a free-list head per class.
BUFFER_SINCE, BUFFER_LIMIT, BUFFER_HEADS = 0, 1, 2
BUFFER_WORDS = BUFFER_HEADS + len(SIZE_CLASS_WORDS)

_KIND_OF_ID = [None] * (HEADER_KIND_MASK + 1)     # kind id -> ObjKind (None: not a kind)
for _k in ObjKind:
    _KIND_OF_ID[_k] = _k
_INST_CLASS = INSTANCE_KLASS >> 3


def dangling_reference(word: int, parent_header: int) -> HeapError:
    """The error for a traced word of an object (header `parent_header`) that references
    freed memory."""
    return HeapError(f"dangling reference 0x{word & ADDR_MASK:x} (freed memory) in a "
                     f"{ObjKind(parent_header & HEADER_KIND_MASK).name}")


def corrupt_reference(word: int, parent_header: int) -> HeapError:
    """The error for a traced word of an object that is tagged as a reference but points
    outside the heap."""
    return HeapError(f"corrupt reference 0x{word & ADDR_MASK:x} in a "
                     f"{ObjKind(parent_header & HEADER_KIND_MASK).name}")


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
        """The k-th word held by this scope."""
        return self._stack[self._base + k]

    def __setitem__(self, k: int, word: int) -> None:
        """Hold another word in the k-th place instead (the old one may now die)."""
        self._stack[self._base + k] = word


class Heap(LoxObjects):
    """Lox objects in native memory, with allocation and garbage collection."""

    def __init__(self, config: Config | None = None, tracer: Tracer | None = None, *,
                 poison: bool | None = None):
        self.config = config = config if config is not None else Config()
        self.tracer = tracer if tracer is not None else Tracer()
        self.memory = Memory(config.heap_reserve_bytes)
        if self.memory.size < config.heap_reserve_bytes and self.tracer.on("gc"):
            self.tracer.emit("gc", f"reserved {self.memory.size} bytes for the heap "
                                   f"(address space limited; {config.heap_reserve_bytes} asked)",
                             event="reserved", reserved=self.memory.size,
                             asked=config.heap_reserve_bytes)
        self.mem64 = self.memory.mem64
        self.base = self.memory.base
        self._b3 = self.base >> 3           # mem64 index of address a: (a >> 3) - _b3
        self._rb = REF_TAG | self.base      # mem64 index of reference w: (w - _rb) >> 3
        self._n = len(self.mem64)
        self._allocator = Allocator(self.memory)
        self._class_of_words = self._allocator.class_of_words   # shared, for _alloc
        self._block_bytes = self._allocator.block_bytes
        self._free_head = self._allocator.free_head
        self.shapes = ShapeTable()
        self._shape_by_id = self.shapes.by_id   # the same list, for the hot paths
        self._interned = {}                 # text -> STRING word (weak: pruned by the GC)
        self._texts = {}                    # STRING word -> text (the same strings)
        self._handles = []
        self._providers = []
        self._ranges = []                   # (address, nwords) of static root words
        self._plan = trace_plan()
        self._mark_loop = None
        self._stress = config.gc_stress
        self._stress_every = config.handshake_stress   # collect at every Nth allocation
        self._stress_count = 0
        self.stop_the_world = None     # fn(operation): runs it with every other thread stopped
        self._buffers = {}             # address of a thread's allocation buffer -> its words
        self.poison = config.gc_stress if poison is None else poison
        # Two words of static memory that native allocation reads and writes too:
        # [SINCE] bytes allocated since the last collection, [LIMIT] the byte count that
        # calls for a collection (0 under gc-stress and during a collection: every
        # allocation takes the slow path).
        self.gc_words_address = self.memory.alloc_static(2)
        start = (self.gc_words_address - self.base) >> 3
        self._gc_words = self.mem64[start:start + 2]
        self._initial_threshold = config.gc_initial_threshold
        self._growth = config.gc_heap_growth
        self._threshold = config.gc_initial_threshold
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
        self._gc_words.release()
        self._allocator.close()
        self.memory.close()

    # -- checking words ------------------------------------------------------------------

    def _index(self, word: int, kind: int) -> int:
        """The mem64 index of the object `word` refers to, which must be of `kind`."""
        i = (word - self._rb) >> 3
        if 0 <= i < self._n and (self.mem64[i] & HEADER_KIND_MASK) == kind:
            return i
        raise self._wrong_kind(word, kind)

    def _wrong_kind(self, word: int, expected) -> HeapError:
        """The error for a word that is not a live object of the expected kind(s)."""
        want = ObjKind(expected).name if isinstance(expected, int) else " or ".join(
            ObjKind(k).name for k in expected)
        if (word & REF_TAG) != REF_TAG:
            return HeapError(f"expected {want}, got {describe_word(word)}")
        i = (word - self._rb) >> 3
        if not 0 <= i < self._n:
            return HeapError(f"expected {want}, got reference 0x{word & ADDR_MASK:x} outside "
                             "the heap")
        kind = self.mem64[i] & HEADER_KIND_MASK
        if kind == FREE_KIND or _KIND_OF_ID[kind] is None:
            return HeapError(f"expected {want}, got dangling reference "
                             f"0x{word & ADDR_MASK:x} (freed memory)")
        return HeapError(f"expected {want}, got {ObjKind(kind).name}")

    def kind_of(self, word: int) -> ObjKind | None:
        """The kind of object a word refers to; None for a non-reference word."""
        i = (word - self._rb) >> 3
        if 0 <= i < self._n:
            kind = _KIND_OF_ID[self.mem64[i] & HEADER_KIND_MASK]
            if kind is None:
                raise HeapError(f"dangling reference 0x{word & ADDR_MASK:x} (freed memory)")
            return kind
        if (word & REF_TAG) != REF_TAG:
            return None
        raise HeapError(f"reference 0x{word & ADDR_MASK:x} is not a heap address")

    def header(self, word: int) -> int:
        """The header word of the live object `word` refers to."""
        self.kind_of(word)
        return self.mem64[(word - self._rb) >> 3]

    # -- allocation ----------------------------------------------------------------------

    def _alloc(self, nwords: int, header: int, protect=()) -> int:
        """Allocate an object of nwords words and write its header; its mem64 index.

        May collect first; `protect` holds the words of the caller's arguments that must
        survive.  The caller initialises every other word before its next allocation.
        """
        if nwords <= MAX_SMALL_WORDS:
            c = self._class_of_words[nwords]
            words = self._gc_words
            since = words[SINCE] + self._block_bytes[c]
            if since > words[LIMIT] and self._collect_due(protect):
                since = self._block_bytes[c]
            words[SINCE] = since
            free = self._free_head
            addr = free[c]
            if addr:                                    # the fast path: pop the free list
                i = (addr >> 3) - self._b3
                m = self.mem64
                free[c] = m[i + 1]
                m[i] = header
                return i
            addr = self._allocator.alloc_small(c)
            if not addr:
                self._collect("exhausted", protect)
                addr = self._allocator.alloc_small(c)
        else:
            if nwords > MAX_OBJECT_WORDS:
                raise OutOfMemory(f"an object of {nwords} words is larger than the "
                                  f"largest the heap can hold ({MAX_OBJECT_WORDS} words)")
            nbytes = self._allocator.large_bytes(nwords)
            if self._since + nbytes > self._gc_words[LIMIT]:
                self._collect_due(protect)
            self._since += nbytes
            addr = self._allocator.alloc_large(nwords)
            if not addr:
                self._collect("exhausted", protect)
                addr = self._allocator.alloc_large(nwords)
        if not addr:
            raise OutOfMemory(f"heap reservation of {self.memory.size} bytes exhausted")
        i = (addr >> 3) - self._b3
        self.mem64[i] = header
        return i

    @property
    def _since(self) -> int:
        """Bytes allocated since the last collection (a static word: native code adds too)."""
        return self._gc_words[SINCE]

    @_since.setter
    def _since(self, nbytes: int) -> None:
        self._gc_words[SINCE] = nbytes

    @property
    def _threshold(self) -> int:
        """Bytes allocated since the last collection that call for the next (-1: any)."""
        return self._threshold_bytes

    @_threshold.setter
    def _threshold(self, nbytes: int) -> None:
        self._threshold_bytes = nbytes
        self._gc_words[LIMIT] = 0 if self._stress or self._stress_every or nbytes < 0 \
            else nbytes

    def native_allocation(self) -> dict:
        """What native code needs to allocate small objects without calling Python or
        taking a lock: the layout of a thread's allocation buffer (byte offsets of its
        since, limit and free-list heads; see `add_allocation_buffer`) and the size
        classes.  A native allocation of a class-c block checks since + block_bytes[c] <=
        limit and heads[c] != 0 (else it takes the slow path, which calls
        `refill_buffer`), pops heads[c], adds the bytes to since and writes the header."""
        return {"since": 8 * BUFFER_SINCE, "limit": 8 * BUFFER_LIMIT,
                "heads": 8 * BUFFER_HEADS,
                "class_of_words": self._class_of_words, "block_bytes": self._block_bytes}

    # -- the allocation buffers of threads -------------------------------------------------

    def add_allocation_buffer(self, address: int) -> None:
        """Register a thread's allocation buffer: BUFFER_WORDS words at `address` (outside
        the heap: in the thread's native thread block) that its native code allocates
        from, lock-free.  Its lists are empty until the first refill."""
        words = (ctypes.c_uint64 * BUFFER_WORDS).from_address(address)
        ctypes.memset(address, 0, 8 * BUFFER_WORDS)
        self._buffers[address] = words

    def remove_allocation_buffer(self, address: int) -> None:
        """A thread has ended: count what it allocated; the blocks left on its lists are
        free blocks the next sweep links again."""
        words = self._buffers.pop(address, None)
        if words is not None:
            self._count_buffer(words)

    def refill_buffer(self, address: int, classes) -> None:
        """The slow path of native allocation (the VM lock held): count what the thread
        allocated (collecting if that passes the threshold), give it the heap's whole free
        list of each size class in `classes` that it has run out of (a fresh page when the
        heap's is empty too), and a new byte limit.  Under GC or handshake stress the limit
        stays 0: every allocation takes the slow path, which collects as the stress says."""
        words = self._buffers[address]
        self._count_buffer(words)
        if self._since > self._gc_words[LIMIT] and not (self._stress or self._stress_every):
            self._collect("threshold", ())
        for c in classes:
            if not words[BUFFER_HEADS + c]:
                if not self._free_head[c] and not self._allocator._new_page(c):
                    continue
                words[BUFFER_HEADS + c] = self._free_head[c]
                self._free_head[c] = 0
        self._set_buffer_limit(words)

    def _count_buffer(self, words) -> None:
        self._since += words[BUFFER_SINCE]
        words[BUFFER_SINCE] = 0

    def _set_buffer_limit(self, words) -> None:
        """A share of what may still be allocated before the next collection."""
        left = self._threshold_bytes - self._since
        words[BUFFER_LIMIT] = 0 if self._stress or self._stress_every or left <= 0 else \
            left // len(self._buffers)

    def _flush_buffers(self) -> dict:
        """Before a collection (every thread stopped): count each buffer's bytes and empty
        its lists (their blocks are free; the sweep links them into the heap's again).
        Returns the size classes each buffer had lists of (`_restock_buffers`)."""
        had = {}
        for address, words in self._buffers.items():
            self._count_buffer(words)
            words[BUFFER_LIMIT] = 0
            had[address] = [c for c in range(BUFFER_WORDS - BUFFER_HEADS)
                            if words[BUFFER_HEADS + c]]
            ctypes.memset(address + 8 * BUFFER_HEADS, 0, 8 * (BUFFER_WORDS - BUFFER_HEADS))
        return had

    def _restock_buffers(self, had: dict) -> None:
        """After a collection: hand each buffer the heap's new lists of the classes it
        allocated from (the first to ask gets a class's whole list), and its limit, so
        that native allocation does not start with a slow path per class."""
        for address, classes in had.items():
            words = self._buffers.get(address)
            if words is None:
                continue
            for c in classes:
                if self._free_head[c]:
                    words[BUFFER_HEADS + c] = self._free_head[c]
                    self._free_head[c] = 0
        for words in self._buffers.values():
            self._set_buffer_limit(words)

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

    @property
    def collecting(self) -> bool:
        """Whether a collection is running (a profiler labels a thread's time so)."""
        return self._collecting

    def collect(self, reason: str = "explicit") -> None:
        """Run a full collection now."""
        self._collect(reason, ())

    def _collect_due(self, protect) -> bool:
        """An allocation passed the limit: collect (and say so), unless handshake-stress
        keeps the limit at 0 only to collect at every Nth allocation and this is not one."""
        if self._stress_every:
            self._stress_count += 1
            if self._stress_count % self._stress_every and not self._stress:
                return False
        self._collect("stress" if self._stress or self._stress_every else "threshold",
                      protect)
        return True

    def _collect(self, reason: str, protect) -> None:
        """Collect with the world stopped: `stop_the_world(operation)`, when the VM has
        set it, runs the operation once every other thread is in a safe state."""
        if self.stop_the_world is None:
            self._collect_stopped(reason, protect)
        else:
            self.stop_the_world(lambda: self._collect_stopped(reason, protect))

    def _collect_stopped(self, reason: str, protect) -> None:
        """Mark from every root, prune the weak tables, sweep; update threshold and stats."""
        if self._collecting:
            raise HeapError("allocation during a collection (a root provider allocated?)")
        self._collecting = True
        threshold, self._threshold = self._threshold, -1    # any allocation now lands in here
        start = time.perf_counter()
        had = self._flush_buffers()
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
            self._trace(stack)
            self._mark_shape_trees()
        except BaseException:
            self._unmark_all()      # a half-marked heap would hide objects from the next GC
            raise
        else:
            self._prune_interned()
            freed, live, pages_freed = self._allocator.sweep(self.poison)
        finally:
            self._collecting = False
            self._threshold = threshold
        self._collections += 1
        self._allocated_before += self._since
        self._since = 0
        self._live = live
        self._threshold = max(self._initial_threshold, self._growth * live)
        self._restock_buffers(had)
        self._objects_freed += freed
        self._gc_seconds += time.perf_counter() - start
        if self.tracer.on("gc"):
            self.tracer.emit("gc", f"collection {self._collections} ({reason}): live bytes "
                                   f"{before} -> {live}, {freed} objects freed, "
                                   f"{pages_freed} pages released, "
                                   f"{self.memory.committed_bytes} bytes committed",
                             event="collection", collection=self._collections, reason=reason,
                             bytes_before=before, bytes_after=live, freed=freed,
                             pages_released=pages_freed,
                             committed=self.memory.committed_bytes)

    def _grey(self, words, stack: list) -> None:
        """Mark the unmarked objects among `words` and push them on the mark stack."""
        m, rb, n, plan = self.mem64, self._rb, self._n, self._plan
        for w in words:
            i = (w - rb) >> 3
            if 0 <= i < n:                      # a reference into the heap
                h = m[i]
                if not h & HEADER_MARK:
                    if plan[h & HEADER_KIND_MASK] is None:
                        raise HeapError(f"dangling reference 0x{w & ADDR_MASK:x} (freed "
                                        "memory) reached while marking")
                    m[i] = h | HEADER_MARK
                    stack.append(i)
            elif (w & REF_TAG) == REF_TAG:
                raise HeapError(f"corrupt reference 0x{w & ADDR_MASK:x} while marking")

    def set_mark_loop(self, loop) -> None:
        """Drain mark stacks with `loop(stack)` instead of `_drain`: a native tier installs
        one compiled to machine code.  It must mark exactly what `_drain` marks, empty the
        stack, and raise `_drain`'s errors (dangling_reference, corrupt_reference)."""
        self._mark_loop = loop

    def set_page_loops(self, loops) -> None:
        """Link and sweep pages with `loops` (Allocator.set_page_loops)."""
        self._allocator.set_page_loops(loops)

    @property
    def trace_plan(self) -> list:
        """Per kind id: what the collector traces (layout.trace_plan)."""
        return self._plan

    @property
    def reference_base(self) -> int:
        """REF_TAG | base: a reference w names the object at word (w - this) >> 3."""
        return self._rb

    @property
    def word_count(self) -> int:
        """The heap memory's size in words (reserved, mapped or not)."""
        return self._n

    def _trace(self, stack: list) -> None:
        """Trace marked objects until the mark stack is empty."""
        if self._mark_loop is not None:
            self._mark_loop(stack)
        else:
            self._drain(stack)

    def _drain(self, stack: list) -> None:
        """Trace marked objects until the mark stack is empty (no recursion).

        The loop body is _grey's, inlined: this is where a collection spends its time.
        """
        m, rb, n, plan = self.mem64, self._rb, self._n, self._plan
        pop, push = stack.pop, stack.append
        while stack:
            i = pop()
            h = m[i]
            fixed, tail = plan[h & HEADER_KIND_MASK]
            children = [m[i + k] for k in fixed]
            if tail:
                children += m[i + tail:i + ((h >> HEADER_SIZE_SHIFT) & HEADER_SIZE_MASK)].tolist()
            for w in children:
                j = (w - rb) >> 3
                if 0 <= j < n:
                    c = m[j]
                    if not c & HEADER_MARK:
                        if plan[c & HEADER_KIND_MASK] is None:
                            raise dangling_reference(w, h)
                        m[j] = c | HEADER_MARK
                        push(j)
                elif (w & REF_TAG) == REF_TAG:
                    raise corrupt_reference(w, h)

    def _unmark_all(self) -> None:
        """Clear every mark bit (after a collection that failed half way)."""
        m, b3 = self.mem64, self._b3
        for addr in self._allocator.objects():
            m[(addr >> 3) - b3] &= ~HEADER_MARK

    def _mark_shape_trees(self) -> None:
        """Keep the field names of live classes' shape trees; drop dead classes' trees."""
        m, b3 = self.mem64, self._b3
        stack = []
        for class_addr, root in list(self.shapes.roots.items()):
            if m[(class_addr >> 3) - b3] & HEADER_MARK:
                self._grey(root.tree_names, stack)
            else:
                self.shapes.drop_tree(root)
        self._trace(stack)

    def _prune_interned(self) -> None:
        """Drop unmarked strings from the (weak) intern table."""
        m, rb = self.mem64, self._rb
        dead = [w for w in self._texts if not m[(w - rb) >> 3] & HEADER_MARK]
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

    # -- whole-heap views (tests, debugger, dumps) ---------------------------------------

    def objects(self):
        """(reference word, kind) of every allocated object, dead or alive until swept."""
        for addr in self._allocator.objects():
            yield REF_TAG | addr, ObjKind(self.mem64[(addr >> 3) - self._b3] & HEADER_KIND_MASK)

    def children(self, word: int) -> list:
        """The traced words of an object (what the GC follows from it), in layout order."""
        self.kind_of(word)
        m = self.mem64
        i = (word - self._rb) >> 3
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
        if kind is ObjKind.STRING:
            return repr(self.string_text(word))
        named = {ObjKind.FUNCTION: self.function_name, ObjKind.CLASS: self.class_name,
                 ObjKind.NATIVE: self.native_name}
        if kind in named:
            name = named[kind](word)
            return f"<{kind.name.lower()} {self.string_text(name) if name != NIL else 'script'}>"
        return f"<{kind.name.lower()} 0x{word & ADDR_MASK:x}>"

    def verify(self) -> int:
        """Check every object's header, references, string bytes and instance shape.

        Returns the number of objects checked; raises HeapError at the first problem.
        """
        m = self.mem64
        count = 0
        for word, kind in self.objects():
            i = (word - self._rb) >> 3
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
            if kind is ObjKind.STRING and self._texts.get(word, "").encode(
                    "utf-8", "surrogatepass") != self.string_bytes(word):
                raise HeapError(f"string 0x{word & ADDR_MASK:x} differs from its intern entry")
            if kind is ObjKind.INSTANCE:
                shape = self._shape_by_id[h >> HEADER_SHAPE_SHIFT]
                if shape is None or shape.class_addr != m[i + _INST_CLASS] & ADDR_MASK:
                    raise HeapError(f"{self.describe(word)}: shape does not match its class")
            count += 1
        return count
