"""Safepoint bias, measured: how far a sample taken at the next safepoint lands from where
the time was going when it was asked for.

A "compare" run (sampler.py) takes, on each tick of a thread running native code, a
signal sample (the instruction pointer and return addresses at that instant: where the
time goes) and right after it a safepoint sample of the same thread (where the handshake
stopped it).  Over those pairs this reports:
- the share of pairs whose innermost frame is in the same function (any tier), and at
  the same function and line;
- the total variation distance between the two self-time distributions over functions
  and over (function, line): half the sum of the absolute differences of the shares, 0
  when the safepoint profile charges every function (line) as much as the signal
  profile, 1 when they share nothing;
- time to safepoint: from the request to the handshake running (median, 95th
  percentile, max), the delay that moves a sample away from where it was asked.
"""
from collections import Counter


def report(pairs, names) -> list:
    """The bias lines of a "compare" run's pairs (none: one line saying so)."""
    if not pairs:
        return ["safepoint bias: no pairs (no sample landed in native code)"]
    same_function = sum(_leaf(a, names)[0] == _leaf(b, names)[0] for a, b in pairs)
    same_line = sum(_leaf(a, names) == _leaf(b, names) for a, b in pairs)
    n = len(pairs)
    waits = sorted(b.to_safepoint for _, b in pairs)
    return [
        f"safepoint bias over {n} paired samples (signal, then safepoint, same tick):",
        f"  same innermost function {100 * same_function / n:.1f}%, same function and "
        f"line {100 * same_line / n:.1f}%",
        f"  distance between the self-time profiles: functions "
        f"{distance(pairs, names, lambda leaf: leaf[0]):.3f}, lines "
        f"{distance(pairs, names, lambda leaf: leaf):.3f} (total variation)",
        f"  time to safepoint: median {_us(waits[n // 2])}, 95th percentile "
        f"{_us(waits[min(n - 1, int(n * 0.95))])}, max {_us(waits[-1])}"]


def distance(pairs, names, key) -> float:
    """Total variation distance between the signal and safepoint self-time shares."""
    first, second = Counter(), Counter()
    for a, b in pairs:
        first[key(_leaf(a, names))] += a.weight
        second[key(_leaf(b, names))] += b.weight
    t1, t2 = sum(first.values()) or 1.0, sum(second.values()) or 1.0
    return 0.5 * sum(abs(first[k] / t1 - second[k] / t2) for k in first.keys() | second.keys())


def _leaf(sample, names) -> tuple:
    """(function, line) of the innermost frame."""
    frame = sample.frames[0]
    return names.function(frame.func), frame.line


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} us"
