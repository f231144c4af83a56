"""The heap's exceptions (runtime bugs, not guest errors: the Lox layer checks first)."""


class HeapError(Exception):
    """A heap operation on the wrong kind of word, a dangling reference, or a corrupt heap."""


class HeapIndexError(HeapError, IndexError):
    """An index outside an array or closure."""
