"""Port of tests/lox/suite/benchmark/instantiation.lox: instance creation and initializer calls.

Usage: instantiation.py [N] — the Lox program loops 500000 times.
"""
import sys

from lox_builtins import clock, lox_print


class Foo:
    def __init__(self):
        pass


def main(n=500000):
    start = clock()
    i = 0
    while i < n:
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        Foo()
        i = i + 1

    lox_print(clock() - start)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
