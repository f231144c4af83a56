"""Native memory: one reserved range of address space, handed out in pages.

The heap reserves `Config.heap_reserve_bytes` of virtual address space with one anonymous
mmap (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE): nothing is committed until touched,
and pages given back are released with madvise(MADV_DONTNEED), after which they read as
zero.  Where the address space is limited (`ulimit -v`) and that much cannot be reserved,
it finds the largest of a half, a quarter, ... that can be, and reserves half of that,
leaving the rest to the process; when not even MIN_RESERVE_BYTES can be reserved it raises
OutOfMemory.  `size` is what was reserved.  Every address the heap hands out is absolute (base + offset), 8-byte aligned and
below 2**48, so it fits a tagref64 reference and native code can use it as a pointer.

The reservation is cut into PAGE_BYTES pages.  `take_pages(n)` returns a zero-filled span
of n contiguous pages (first fit over the runs given back, else fresh pages at the
frontier); `give_pages` releases a span to the OS and to the pool.  The allocator builds
size-class pages and large-object spans on top; `alloc_static` carves never-collected,
zero-filled words (VM globals) out of pages of its own.

Python code reads and writes words through `mem64` (a memoryview of unsigned 64-bit
words, index = (address - base) >> 3) and bytes through `mem8`.
"""
import bisect
import ctypes
import errno
import mmap

from .errors import OutOfMemory

PAGE_BYTES = 64 * 1024
PAGE_WORDS = PAGE_BYTES // 8
MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)   # Linux value; mmap lacks it < 3.13
MIN_RESERVE_BYTES = 16 << 20    # below this a reservation is not worth running a program in


def reserve(size: int) -> mmap.mmap:
    """An anonymous, uncommitted mapping of `size` bytes; where the address-space limit
    refuses that, half of the largest of size/2, size/4, ... it allows (the rest of the
    process -- Python's objects, LLVM -- needs address space too), not below
    MIN_RESERVE_BYTES."""
    minimum = min(size, MIN_RESERVE_BYTES)
    limited = False
    while True:
        try:
            mapping = _map(size)
        except OSError as error:
            if error.errno != errno.ENOMEM:
                raise
            if size // 2 < minimum:
                raise OutOfMemory(f"cannot reserve {size} bytes of address space for the "
                                  f"heap: {error.strerror}") from None
            size = size // 2 // PAGE_BYTES * PAGE_BYTES
            limited = True
            continue
        if not limited or size // 2 < minimum:
            return mapping
        mapping.close()
        return _map(size // 2 // PAGE_BYTES * PAGE_BYTES)


def _map(size: int) -> mmap.mmap:
    """An anonymous private mapping of `size` bytes that commits nothing until touched."""
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE,
                     prot=mmap.PROT_READ | mmap.PROT_WRITE)


class Memory:
    """The heap's reservation: views over it, word and byte access, and page spans."""

    def __init__(self, reserve_bytes: int):
        self._mm = reserve(max(1, -(-reserve_bytes // PAGE_BYTES)) * PAGE_BYTES)
        self.size = len(self._mm)
        self.page_count = self.size // PAGE_BYTES
        probe = ctypes.c_char.from_buffer(self._mm)
        self.base = ctypes.addressof(probe)
        del probe   # a live ctypes export would stop close()
        if self.base % 8 or self.base + self.size > 1 << 48:
            raise MemoryError("heap reservation is not 8-byte aligned below 2**48")
        self.end = self.base + self.size
        self.mem8 = memoryview(self._mm)
        self.mem64 = self.mem8.cast("Q")
        self._frontier = 0          # first page never handed out
        self._free_runs = []        # sorted [first_page, page_count] runs given back
        self.pages_in_use = 0
        self.peak_pages_in_use = 0
        self._static_next = 0       # bump pointer in the current static span
        self._static_end = 0
        self.static_bytes = 0

    # -- words and bytes ---------------------------------------------------------------

    def load64(self, addr: int) -> int:
        """The word at an absolute, 8-byte aligned address."""
        return self.mem64[self.index(addr)]

    def store64(self, addr: int, word: int) -> None:
        """Store a word at an absolute, 8-byte aligned address."""
        self.mem64[self.index(addr)] = word

    def load_bytes(self, addr: int, n: int) -> bytes:
        """n bytes starting at an absolute address."""
        off = self._offset(addr, n)
        return bytes(self.mem8[off:off + n])

    def store_bytes(self, addr: int, data) -> None:
        """Copy bytes to an absolute address."""
        off = self._offset(addr, len(data))
        self.mem8[off:off + len(data)] = data

    def index(self, addr: int) -> int:
        """The mem64 index of an absolute address (checked: inside, aligned)."""
        if addr & 7 or not self.base <= addr < self.end:
            raise ValueError(f"address 0x{addr:x} is not an aligned heap address")
        return (addr - self.base) >> 3

    def _offset(self, addr: int, n: int) -> int:
        if n < 0 or not self.base <= addr <= addr + n <= self.end:
            raise ValueError(f"bytes 0x{addr:x}+{n} are outside the heap")
        return addr - self.base

    def contains(self, addr: int) -> bool:
        """Whether an address lies in the reservation."""
        return self.base <= addr < self.end

    # -- pages -------------------------------------------------------------------------

    def page_of(self, addr: int) -> int:
        """The page number an address falls in."""
        return (addr - self.base) // PAGE_BYTES

    def page_addr(self, page: int) -> int:
        """The address of a page's first byte."""
        return self.base + page * PAGE_BYTES

    def take_pages(self, n: int) -> int:
        """Address of n contiguous zero-filled pages, or 0 when the reservation is full."""
        runs = self._free_runs
        for k, (first, count) in enumerate(runs):
            if count >= n:
                if count == n:
                    del runs[k]
                else:
                    runs[k] = [first + n, count - n]
                break
        else:
            if self._frontier + n > self.page_count:
                return 0
            first = self._frontier
            self._frontier += n
        self.pages_in_use += n
        if self.pages_in_use > self.peak_pages_in_use:
            self.peak_pages_in_use = self.pages_in_use
        return self.base + first * PAGE_BYTES

    def give_pages(self, addr: int, n: int) -> None:
        """Release a span taken with take_pages: decommit it and make it reusable."""
        self._mm.madvise(mmap.MADV_DONTNEED, addr - self.base, n * PAGE_BYTES)
        self.pages_in_use -= n
        first = (addr - self.base) // PAGE_BYTES
        runs = self._free_runs
        k = bisect.bisect_left(runs, [first, 0])
        if k > 0 and runs[k - 1][0] + runs[k - 1][1] == first:     # merge with the run before
            k -= 1
            runs[k][1] += n
        else:
            runs.insert(k, [first, n])
        if k + 1 < len(runs) and runs[k][0] + runs[k][1] == runs[k + 1][0]:
            runs[k][1] += runs[k + 1][1]
            del runs[k + 1]
        if runs[-1][0] + runs[-1][1] == self._frontier:             # keep the frontier tight
            self._frontier = runs.pop()[0]

    @property
    def committed_bytes(self) -> int:
        """Bytes in pages handed out and not given back (what the heap may have touched)."""
        return self.pages_in_use * PAGE_BYTES

    @property
    def peak_committed_bytes(self) -> int:
        """The most committed_bytes has ever been."""
        return self.peak_pages_in_use * PAGE_BYTES

    # -- static memory -----------------------------------------------------------------

    def alloc_static(self, nwords: int) -> int:
        """Address of nwords zero-filled words that are never collected nor moved."""
        nbytes = max(1, nwords) * 8
        if self._static_next + nbytes > self._static_end:
            pages = -(-nbytes // PAGE_BYTES)
            start = self.take_pages(pages)
            if not start:
                raise OutOfMemory(f"heap reservation of {self.size} bytes exhausted "
                                  "(static memory)")
            self._static_next, self._static_end = start, start + pages * PAGE_BYTES
        addr = self._static_next
        self._static_next += nbytes
        self.static_bytes += nbytes
        return addr

    def close(self) -> None:
        """Unmap the reservation (every view becomes unusable)."""
        self.mem64.release()
        self.mem8.release()
        self._mm.close()
