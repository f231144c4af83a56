"""Delta debugging: make a failing program small while it still fails the same way.

`shrink_tree` works on the structure of a generated program (tree.py): it drops chunks of
statements (whole sections first, then single statements, class members, loop bodies),
puts a block's statements in place of the statement that holds it, replaces expressions by a literal or by one of their sub-expressions, and lowers loop
counts and recursion depths — keeping each change only if `still_fails(text)` holds, so a
mismatch that needs a hot loop keeps a count past the compile threshold.  `shrink_lines`
does the same with lines, for programs that come as text only (e.g. IR).  Both stop after
`max_tests` candidates or `seconds`, and return the smallest failing program found.
"""
import time

from .tree import Node, render, replace_at, walk

LITERALS = ("nil", "0", "1", '"s"')
COUNT_STEPS = (1, 2, 3, 5, 10, 31, 35, 40, 50, 60, 100)


class Budget:
    """How many more candidates may be tried, and until when."""

    def __init__(self, max_tests: int, seconds: float) -> None:
        self.left = max_tests
        self.deadline = time.monotonic() + seconds
        self.tests = 0

    def spend(self) -> bool:
        """Take one test from the budget; False once it is used up."""
        if self.left <= 0 or time.monotonic() > self.deadline:
            return False
        self.left -= 1
        self.tests += 1
        return True


def shrink_tree(tree: Node, still_fails, max_tests: int = 300, seconds: float = 300.0):
    """The smallest tree found whose text still fails; returns (tree, tests run).

    Passes over the candidates (candidates()); after a success the pass goes on from the
    same position in the new tree's candidates instead of starting over (the cuts before it
    have just failed), and passes repeat while one of them made progress."""
    budget = Budget(max_tests, seconds)
    tried = set()
    current = tree
    progress = True
    while progress:
        progress = False
        position = 0
        while True:
            found = _first_success(current, still_fails, budget, tried, position)
            if found is None:
                break
            current, position = found
            progress = True
        if budget.left <= 0:
            break
    return current, budget.tests


def _first_success(tree: Node, still_fails, budget: Budget, tried: set, start: int):
    """(the first candidate from index `start` that still fails, its index), or None."""
    for index, candidate in enumerate(candidates(tree)):
        if index < start:
            continue
        text = render(candidate)
        if text in tried:
            continue
        tried.add(text)
        if not budget.spend():
            return None
        if still_fails(text + "\n"):
            return candidate, index
    return None


def candidates(tree: Node):
    """Smaller variants of the tree, the biggest cuts first."""
    nodes = list(walk(tree))
    for path, node in nodes:
        if node.kind == "seq":
            yield from _drop_chunks(tree, path, node)
    for path, node in nodes:
        if node.kind == "seq":
            yield from _unwrap_blocks(tree, path, node)
    for path, node in nodes:
        if node.kind == "expr":
            yield from _simpler_expressions(tree, path, node)
    for path, node in nodes:
        if node.kind == "count":
            for value in COUNT_STEPS:
                if value < node.value:
                    yield replace_at(tree, path, Node("count", (), value))


def _drop_chunks(tree: Node, path, node: Node):
    """The tree without a run of the seq's statements: halves, quarters, ..., single ones."""
    total = len(node.parts)
    chunk = total
    while chunk >= 1:
        for start in range(0, total, chunk):
            kept = node.parts[:start] + node.parts[start + chunk:]
            yield replace_at(tree, path, Node("seq", kept, node.value))
        chunk //= 2


def _unwrap_blocks(tree: Node, path, node: Node):
    """The tree with a statement of the seq replaced by the statements of one of its blocks
    (a loop's or an if's body, a function's body in place of the function)."""
    for index, statement in enumerate(node.parts):
        for _, part in statement.kids():
            for _, inner in part.kids() if part.kind == "fixed" else ():
                if inner.kind == "seq":
                    spliced = node.parts[:index] + inner.parts + node.parts[index + 1:]
                    yield replace_at(tree, path, Node("seq", spliced, node.value))


def _simpler_expressions(tree: Node, path, node: Node):
    """The tree with the expression replaced by one of its sub-expressions or a literal."""
    text = render(node)
    for _, child in node.kids():
        if child.kind == "expr":
            yield replace_at(tree, path, child)
    for literal in LITERALS:
        if text != literal:
            yield replace_at(tree, path, Node("expr", (literal,)))


def shrink_lines(text: str, still_fails, max_tests: int = 300, seconds: float = 300.0):
    """Line-based delta debugging for programs without a tree; returns (text, tests run)."""
    budget = Budget(max_tests, seconds)
    lines = text.split("\n")
    chunk = max(1, len(lines) // 2)
    while chunk >= 1:
        start = 0
        while start < len(lines):
            candidate = lines[:start] + lines[start + chunk:]
            if not budget.spend():
                return "\n".join(lines), budget.tests
            if still_fails("\n".join(candidate)):
                lines = candidate
            else:
                start += chunk
        chunk //= 2
    return "\n".join(lines), budget.tests

