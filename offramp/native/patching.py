"""Writing machine code over compiled code: the one place native code is made writable.

Compiled code lives in pages mapped read+execute.  A write makes the pages it touches
writable for the moment of the write (mprotect through ctypes) and executable again
after.  Whether the write is safe while other threads run is the caller's business: the
inline caches and the trampling of invalid code (inline_cache.py, trample.py) both write
with every other thread stopped at a safepoint, outside any region being written.
"""
import ctypes
import mmap

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
PROT_RX = mmap.PROT_READ | mmap.PROT_EXEC
PROT_RWX = PROT_RX | mmap.PROT_WRITE


def write_code(address: int, data: bytes) -> None:
    """Write machine code over executable memory: its pages writable only meanwhile."""
    write_many([(address, data)])


def write_many(writes) -> None:
    """Write several (address, bytes) pieces of code with one mprotect on each side: the
    pages from the lowest to the highest byte written (one compiled unit's regions)."""
    writes = [(a, d) for a, d in writes if d]
    if not writes:
        return
    start = min(a for a, _ in writes) & ~(mmap.PAGESIZE - 1)
    length = max(a + len(d) for a, d in writes) - start
    _protect(start, length, PROT_RWX)
    try:
        for address, data in writes:
            ctypes.memmove(address, data, len(data))
    finally:
        _protect(start, length, PROT_RX)


def _protect(page: int, length: int, prot: int) -> None:
    if _libc.mprotect(page, length, prot) != 0:
        raise OSError(ctypes.get_errno(), "mprotect of native code failed")
