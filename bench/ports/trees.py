"""Port of tests/lox/suite/benchmark/trees.lox: build a 5-ary tree once, walk it repeatedly.

Usage: trees.py [DEPTH EXPECTED WALKS] — the Lox program builds Tree(8), whose walk sums to
122068, and walks it 100 times.
"""
import sys

from lox_builtins import clock, lox_print


class Tree:
    def __init__(self, depth):
        self.depth = depth
        if depth > 0:
            self.a = Tree(depth - 1)
            self.b = Tree(depth - 1)
            self.c = Tree(depth - 1)
            self.d = Tree(depth - 1)
            self.e = Tree(depth - 1)

    def walk(self):
        if self.depth == 0:
            return 0
        return (self.depth
                + self.a.walk()
                + self.b.walk()
                + self.c.walk()
                + self.d.walk()
                + self.e.walk())


def main(depth=8, expected=122068, walks=100):
    tree = Tree(depth)
    start = clock()
    i = 0
    while i < walks:
        if tree.walk() != expected:
            lox_print("Error")
        i = i + 1
    lox_print(clock() - start)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
