"""Port of tests/lox/suite/benchmark/equality.lox: `==` on mixed constants, minus a bare loop.

Usage: equality.py [N] — the Lox program runs each loop 10000000 times.

The results of the comparisons are discarded, as in the Lox program; so where Python's `==`
differs from Lox's (`1 == True` is true in Python, false in Lox) no output changes. CPython
drops the bare constant statements of the first loop at compile time, as a compiler may.
"""
import sys

from lox_builtins import clock, lox_print


def main(n=10000000):
    i = 0

    loop_start = clock()

    while i < n:
        i = i + 1

        1; 1; 1; 2; 1; None; 1; "str"; 1; True
        None; None; None; 1; None; "str"; None; True
        True; True; True; 1; True; False; True; "str"; True; None
        "str"; "str"; "str"; "stru"; "str"; 1; "str"; None; "str"; True

    loop_time = clock() - loop_start

    start = clock()

    i = 0
    while i < n:
        i = i + 1

        1 == 1; 1 == 2; 1 == None; 1 == "str"; 1 == True
        None == None; None == 1; None == "str"; None == True
        True == True; True == 1; True == False; True == "str"; True == None
        "str" == "str"; "str" == "stru"; "str" == 1; "str" == None; "str" == True

    elapsed = clock() - start
    lox_print("loop")
    lox_print(loop_time)
    lox_print("elapsed")
    lox_print(elapsed)
    lox_print("equals")
    lox_print(elapsed - loop_time)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
