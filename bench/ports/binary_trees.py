"""Port of tests/lox/suite/benchmark/binary_trees.lox: allocate and check binary trees.

Usage: binary_trees.py [MAX_DEPTH] — the Lox program uses maxDepth = 14.
"""
import sys

from lox_builtins import clock, lox_print


class Tree:
    def __init__(self, item, depth):
        self.item = item
        self.depth = depth
        if depth > 0:
            item2 = item + item
            depth = depth - 1
            self.left = Tree(item2 - 1, depth)
            self.right = Tree(item2, depth)
        else:
            self.left = None
            self.right = None

    def check(self):
        if self.left is None:
            return self.item

        return self.item + self.left.check() - self.right.check()


def main(max_depth=14):
    min_depth = 4
    stretch_depth = max_depth + 1

    start = clock()

    lox_print("stretch tree of depth:")
    lox_print(stretch_depth)
    lox_print("check:")
    lox_print(Tree(0, stretch_depth).check())

    long_lived_tree = Tree(0, max_depth)

    # iterations = 2 ** maxDepth
    iterations = 1
    d = 0
    while d < max_depth:
        iterations = iterations * 2
        d = d + 1

    depth = min_depth
    while depth < stretch_depth:
        check = 0
        i = 1
        while i <= iterations:
            check = check + Tree(i, depth).check() + Tree(-i, depth).check()
            i = i + 1

        lox_print("num trees:")
        lox_print(iterations * 2)
        lox_print("depth:")
        lox_print(depth)
        lox_print("check:")
        lox_print(check)

        iterations = iterations / 4  # Lox division: a double, as in the original
        depth = depth + 2

    lox_print("long lived tree of depth:")
    lox_print(max_depth)
    lox_print("check:")
    lox_print(long_lived_tree.check())
    lox_print("elapsed:")
    lox_print(clock() - start)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
