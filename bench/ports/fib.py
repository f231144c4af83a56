"""Port of tests/lox/suite/benchmark/fib.lox: naive doubly recursive fib.

Usage: fib.py [N EXPECTED] — the Lox program computes fib(35) and compares it with 9227465.
"""
import sys

from lox_builtins import clock, lox_print


def fib(n):
    if n < 2:
        return n
    return fib(n - 2) + fib(n - 1)


def main(n=35, expected=9227465):
    start = clock()
    lox_print(fib(n) == expected)
    lox_print(clock() - start)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
