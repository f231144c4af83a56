"""Port of tests/lox/suite/benchmark/zoo.lox: six field-returning methods per iteration.

Usage: zoo.py [LIMIT] — the Lox program loops while sum < 10000000.
"""
import sys

from lox_builtins import clock, lox_print


class Zoo:
    def __init__(self):
        self.aarvark = 1
        self.baboon = 1
        self.cat = 1
        self.donkey = 1
        self.elephant = 1
        self.fox = 1

    def ant(self): return self.aarvark
    def banana(self): return self.baboon
    def tuna(self): return self.cat
    def hay(self): return self.donkey
    def grass(self): return self.elephant
    def mouse(self): return self.fox


def main(limit=10000000):
    zoo = Zoo()
    sum = 0  # the Lox program's name, shadowing the builtin as it would
    start = clock()
    while sum < limit:
        sum = (sum + zoo.ant()
               + zoo.banana()
               + zoo.tuna()
               + zoo.hay()
               + zoo.grass()
               + zoo.mouse())

    lox_print(sum)
    lox_print(clock() - start)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
