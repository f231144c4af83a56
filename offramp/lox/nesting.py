"""How deep a Lox program may nest, and the Python recursion the front end needs for it.

The parser (recursive descent) and the code generator (a recursive walk of the tree) use
Python frames in proportion to how deeply the source nests: parentheses, unary operators,
blocks, nested functions, `else if` chains, and the left-leaning chains `a + b + c`,
`a.b.c`, `f()()` (which the Pratt loop builds without recursing, but whose tree is as deep
as the chain is long).  The parser counts one *level* per such step and stops with the
compile error `Too much nesting.` beyond MAX_NESTING levels, so that the rest of the
compiler only ever sees trees it can walk.

Every step of the front end takes at most FRAMES_PER_LEVEL Python frames per level (the
worst is a call argument: parse_precedence -> call -> argument_list -> expression), so
`recursion_room()` raises Python's recursion limit by that much for the time the front end
runs.  Python-to-Python calls do not use the C stack (CPython >= 3.11), so the higher limit
costs no C stack; it is set back afterwards, so that nothing else runs with it.
"""
import sys
from contextlib import contextmanager

MAX_NESTING = 4000
FRAMES_PER_LEVEL = 4
SPARE_FRAMES = 200        # the callers' own frames and the leaf calls at the deepest level


class NestingTooDeep(Exception):
    """Raised by the parser after reporting `Too much nesting.`: parsing stops there."""


@contextmanager
def recursion_room():
    """Run the block with Python's recursion limit high enough for MAX_NESTING levels."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, FRAMES_PER_LEVEL * MAX_NESTING + SPARE_FRAMES
                              + stack_depth()))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


def stack_depth() -> int:
    """The number of Python frames below the caller (what is already used of the limit)."""
    frame, count = sys._getframe(1), 0
    while frame is not None:
        frame, count = frame.f_back, count + 1
    return count
