"""The structured form of a generated program: a tree of nodes printed to source text.

A node is a list of parts (text and child nodes) and a kind that says how the shrinker may
change it:

    seq    a list of statements: any of them may be dropped;
    stmt   one statement (text and children), kept or dropped as a whole by its seq;
    expr   an expression: may be replaced by a literal or by one of its sub-expressions;
    count  a loop count or recursion depth (an integer): may be made smaller;
    fixed  text that must stay as it is (a loop's header, a function's signature).

Trees are never mutated once built: the shrinker makes new trees with `replace_at`.
"""
from dataclasses import dataclass

INDENT = "  "


@dataclass(frozen=True, slots=True)
class Node:
    """One node of a program tree (see the module docstring for the kinds)."""

    kind: str
    parts: tuple = ()
    value: int = 0

    def kids(self):
        """The child nodes, with their index in `parts`."""
        return [(index, part) for index, part in enumerate(self.parts) if isinstance(part, Node)]


def stmt(*parts) -> Node:
    """A statement made of text and child nodes."""
    return Node("stmt", tuple(parts))


def expr(*parts) -> Node:
    """An expression made of text and child expressions."""
    return Node("expr", tuple(parts))


def fixed(*parts) -> Node:
    """Text (with children) that the shrinker must not replace."""
    return Node("fixed", tuple(parts))


def count(value: int) -> Node:
    """A loop count or depth the shrinker may lower."""
    return Node("count", (), value)


def seq(stmts) -> Node:
    """A list of statements, printed one per line."""
    return Node("seq", tuple(stmts))


def block(stmts) -> Node:
    """`{ stmts }` with the statements indented."""
    return fixed("{\n", Node("seq", tuple(stmts), 1), "\n}")


def render(node: Node) -> str:
    """The node's source text."""
    if node.kind == "count":
        return str(node.value)
    if node.kind == "seq":
        lines = []
        for child in node.parts:
            text = render(child)
            lines.extend(INDENT + line if node.value else line for line in text.split("\n"))
        return "\n".join(line for line in lines if line.strip())
    return "".join(part if isinstance(part, str) else render(part) for part in node.parts)


def walk(node: Node, path=()):
    """Every node of the tree with its path (the part indices from the root), preorder."""
    yield path, node
    for index, child in node.kids():
        yield from walk(child, path + (index,))


def node_at(root: Node, path) -> Node:
    """The node at `path`."""
    for index in path:
        root = root.parts[index]
    return root


def replace_at(root: Node, path, new) -> Node:
    """A copy of the tree with the node at `path` replaced by `new` (None: removed)."""
    if not path:
        return new
    index, rest = path[0], path[1:]
    child = replace_at(root.parts[index], rest, new)
    parts = list(root.parts)
    if child is None:
        del parts[index]
    else:
        parts[index] = child
    return Node(root.kind, tuple(parts), root.value)


def size(node: Node) -> int:
    """The number of nodes in the tree (the shrinker's measure of progress)."""
    return sum(1 for _ in walk(node))
