"""What the ports need from Lox's runtime: `print` formatting and `clock()`.

Lox prints numbers with C's `%g`, booleans and nil in lowercase; `clock()` is seconds since
the program started, read from the same clock offramp uses (`time.perf_counter`).
"""
import time

_START = time.perf_counter()


def lox_print(value) -> None:
    """Print `value` as Lox's `print` statement would."""
    if value is None:
        text = "nil"
    elif isinstance(value, bool):  # before numbers: bool is an int subclass
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = "%g" % value
    else:
        text = str(value)
    print(text)


def clock() -> float:
    """Seconds since the program started, like Lox's native `clock()`."""
    return time.perf_counter() - _START
