"""Allocation: size-class pages, per-class free lists, large-object spans, and the sweep.

Small objects (up to MAX_SMALL_WORDS words) live in PAGE_BYTES pages that each hold
blocks of one size class.  Classes step by one word up to 32 words (256 bytes), then by
four classes per doubling up to 1024 words (8 KiB), so no block wastes more than a fifth of
itself.  A class allocates from its free list; when the list is empty it takes a fresh page
and links all of its blocks into the list.  Larger objects get a span of whole pages of
their own.

Free lists are singly linked through the blocks themselves (FREE_KIND header, word 1 the
next block's address) and their heads are words of static memory (`free_head_address`), so
native code pops them too: an allocation fast path is a load, a compare and two stores.
The sweep rebuilds every free list from scratch in address order: it clears the mark of
each marked block, turns each unmarked object into a free block (filling it with POISON
words when poisoning is on, so that a dangling reference fails loudly), and gives back to
the OS every page left with no live object, whatever class it had served (an all-garbage
page is recognised from its header bytes without a Python loop); the next class to need a
page may take it.
"""
from array import array

from .layout import FREE_KIND, HEADER_KIND_MASK, HEADER_MARK, make_header
from .memory import PAGE_BYTES, PAGE_WORDS, Memory

# A reference to an unaligned address outside any reservation: tracing or reading it fails.
POISON = 0xFFFF_DEAD_BEEF_DEAD
POISON_SHAPE = 0xDEAD_BEEF      # header bits 32..63 of a poisoned free block


def _size_classes() -> tuple:
    """Block sizes in words: 2..32 one word apart, then four classes per doubling to 1024."""
    sizes = list(range(2, 33))
    low = 32
    while low < 1024:
        step = low // 4
        sizes.extend(range(low + step, 2 * low + 1, step))
        low *= 2
    return tuple(sizes)


SIZE_CLASS_WORDS = _size_classes()
MARK_BYTE = (HEADER_MARK.bit_length() - 1) // 8           # byte of a header with the mark
_MARK_BIT = bytes((b >> ((HEADER_MARK.bit_length() - 1) % 8)) & 1 for b in range(256))
MAX_SMALL_WORDS = SIZE_CLASS_WORDS[-1]


class Allocator:
    """Hands out blocks of memory for objects; rebuilds free lists when the GC sweeps."""

    def __init__(self, memory: Memory):
        self.memory = memory
        self._m = memory.mem64
        self._base = memory.base
        n = len(SIZE_CLASS_WORDS)
        self.class_of_words = [0] * (MAX_SMALL_WORDS + 1)   # object words -> class index
        c = 0
        for words in range(MAX_SMALL_WORDS + 1):
            while SIZE_CLASS_WORDS[c] < words:
                c += 1
            self.class_of_words[words] = c
        self.block_bytes = [8 * w for w in SIZE_CLASS_WORDS]
        # First free block of each class (0: none), in static memory: a view of those words.
        self.free_head_address = memory.alloc_static(n)
        start = (self.free_head_address - self._base) >> 3
        self.free_head = self._m[start:start + n]
        self.pages = [[] for _ in range(n)]   # page addresses serving each class
        self.large = {}                 # address of a large object -> its page count
        self._loops = None

    def set_page_loops(self, loops) -> None:
        """Link fresh pages and sweep pages with `loops.link_page(page, words, count,
        header)` and `loops.sweep_page(page, words, count, free_header, poison, head)`
        instead of this class's Python loops (a native tier installs machine code that
        does exactly what they do)."""
        self._loops = loops

    def close(self) -> None:
        """Release the view of the free-list heads (the memory can then be unmapped)."""
        self.free_head.release()

    def alloc_small(self, c: int) -> int:
        """A block of class c (contents undefined), or 0 when the reservation is full."""
        a = self.free_head[c]
        if not a:
            a = self._new_page(c)
            if not a:
                return 0
        self.free_head[c] = self._m[((a - self._base) >> 3) + 1]
        return a

    def _new_page(self, c: int) -> int:
        """Take a fresh page for class c and make its blocks the class's free list (which
        was empty); the first block, or 0 when the reservation is full."""
        page = self.memory.take_pages(1)
        if not page:
            return 0
        self.pages[c].append(page)
        words = SIZE_CLASS_WORDS[c]
        count = PAGE_WORDS // words
        if self._loops is not None:
            self.free_head[c] = self._loops.link_page(page, words, count,
                                                      make_header(FREE_KIND, words, 0))
            return page
        p0, span, step = (page - self._base) >> 3, count * words, 8 * words
        nexts = array("Q", range(page + step, page + count * step, step))
        nexts.append(0)
        self._m[p0:p0 + span:words] = array("Q", [make_header(FREE_KIND, words, 0)]) * count
        self._m[p0 + 1:p0 + 1 + span:words] = nexts
        self.free_head[c] = page
        return page

    def alloc_large(self, nwords: int) -> int:
        """A zero-filled span for an object of nwords words, or 0."""
        pages = -(-nwords // PAGE_WORDS)
        addr = self.memory.take_pages(pages)
        if addr:
            self.large[addr] = pages
        return addr

    def large_bytes(self, nwords: int) -> int:
        """Bytes a large object of nwords words occupies (whole pages)."""
        return -(-nwords // PAGE_WORDS) * PAGE_BYTES

    def sweep(self, poison: bool) -> tuple:
        """Free unmarked objects, unmark the rest; (objects freed, live bytes, pages freed)."""
        m, base, b8 = self._m, self._base, self.memory.mem8
        freed = live_bytes = pages_freed = 0
        for c, words in enumerate(SIZE_CLASS_WORDS):
            pages = self.pages[c]
            if not pages:
                continue
            free_header = make_header(FREE_KIND, words, POISON_SHAPE if poison else 0)
            poison_fill = memoryview(array("Q", [POISON]) * (words - 2)) if poison else None
            span = (PAGE_WORDS // words) * words
            head = 0
            kept = []
            pages.sort(reverse=True)                # relink from the top: lists ascend
            for page in pages:
                p0 = (page - base) >> 3
                # The byte of each header holding the mark bit, and the one holding the
                # kind: read at C speed, so an all-garbage page costs no Python loop.
                marks = bytes(b8[8 * p0 + MARK_BYTE:8 * (p0 + span):8 * words])
                if marks.translate(_MARK_BIT).find(1) < 0:
                    kinds = bytes(b8[8 * p0:8 * (p0 + span):8 * words])
                    freed += len(kinds) - kinds.count(0)
                    self.memory.give_pages(page, 1)
                    pages_freed += 1
                    continue
                kept.append(page)
                if self._loops is not None:
                    head, dead, live = self._loops.sweep_page(page, words, span // words,
                                                              free_header, poison, head)
                    freed += dead
                    live_bytes += live * words * 8
                    continue
                headers = m[p0:p0 + span:words].tolist()
                marked = [j for j, h in enumerate(headers) if h & HEADER_MARK]
                live = len(marked)
                for j in marked:
                    m[p0 + j * words] = headers[j] ^ HEADER_MARK
                free = []
                for j, h in enumerate(headers):
                    if not h & HEADER_MARK:
                        i = p0 + j * words
                        if h & HEADER_KIND_MASK:
                            freed += 1
                            if poison:
                                m[i + 2:i + words] = poison_fill
                        free.append(i)
                live_bytes += live * words * 8
                for i in reversed(free):
                    m[i] = free_header
                    m[i + 1] = head
                    head = base + (i << 3)
            kept.reverse()
            self.pages[c] = kept
            self.free_head[c] = head
        for addr, pages in list(self.large.items()):
            i = (addr - base) >> 3
            h = m[i]
            if h & HEADER_MARK:
                m[i] = h ^ HEADER_MARK
                live_bytes += pages * PAGE_BYTES
            else:
                freed += 1
                pages_freed += pages
                del self.large[addr]
                self.memory.give_pages(addr, pages)
        return freed, live_bytes, pages_freed

    def objects(self):
        """Addresses of every allocated (not free) block, small then large, for tools."""
        m, base = self._m, self._base
        for c, words in enumerate(SIZE_CLASS_WORDS):
            span = (PAGE_WORDS // words) * words
            for page in sorted(self.pages[c]):
                p0 = (page - base) >> 3
                for j, h in enumerate(m[p0:p0 + span:words].tolist()):
                    if h & HEADER_KIND_MASK:
                        yield page + 8 * j * words
        yield from sorted(self.large)

    def block_bytes_at(self, addr: int) -> int:
        """Bytes of the block holding the object at addr (by its page's class)."""
        if addr in self.large:
            return self.large[addr] * PAGE_BYTES
        page = self.memory.page_addr(self.memory.page_of(addr))
        for c, pages in enumerate(self.pages):
            if page in pages:
                return self.block_bytes[c]
        raise ValueError(f"0x{addr:x} is not in an object page")
