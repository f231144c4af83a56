"""The heap's exceptions.

HeapError and HeapIndexError are runtime bugs, not guest errors: the Lox layer checks
first.  OutOfMemory is the guest's: the program asked for more than the heap can give (an
object larger than the layout allows, or no room left after a collection), so it is a
guest runtime error (`Out of memory.`) that unwinds guest frames like any other, and a
MemoryError too.
"""
from ..interp.errors import GuestError

OUT_OF_MEMORY = "Out of memory."


class HeapError(Exception):
    """A heap operation on the wrong kind of word, a dangling reference, or a corrupt heap."""


class HeapIndexError(HeapError, IndexError):
    """An index outside an array or closure."""


class OutOfMemory(GuestError, MemoryError):
    """An allocation the heap cannot satisfy; `detail` says which and why."""

    def __init__(self, detail: str):
        super().__init__(OUT_OF_MEMORY)
        self.detail = detail
