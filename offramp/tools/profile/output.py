"""What a profile is written as: speedscope JSON, collapsed stacks, an SVG flame graph, and
the short table of the hottest functions printed on the terminal.

A frame of the output is a guest function in one tier: `fib` (interpreted), `fib [native]`
(a compiled function's own frame) or `fib [inlined]` (code of `fib` inlined into another
compiled function), so a flame graph shows where each tier ran and what was inlined where.
Lines are per sample (the resume point's line) and go into the table and the bias report;
a speedscope frame carries the line its function starts at.

- speedscope (https://www.speedscope.app/file-format-schema.json): one "sampled" profile
  per VM thread, samples root first, weights in milliseconds of wall time.
- collapsed (Brendan Gregg's flamegraph.pl / inferno input): `root;...;leaf COUNT`.
- svg: a self-contained flame graph (root at the bottom), one rectangle per frame with a
  `<title>` giving its samples and share.
"""
import json
import re
from collections import Counter, defaultdict
from html import escape

SCHEMA = "https://www.speedscope.app/file-format-schema.json"
FORMATS = ("speedscope", "collapsed", "svg")
KIND_SUFFIX = {"interp": "", "native": " [native]", "inlined": " [inlined]", "runtime": ""}
LOX_FUNCTION = re.compile(r"lox\.fn\d+\.(.+?)(\.osr\.[^.]+)?")
"""A Lox function's IR name, or its OSR entry clone's (`@f.osr.HEADER`: the same function,
entered mid-loop)."""


RUNTIME_PREFIX = "(runtime: "


class Names:
    """Display names of the VM's functions: a Lox function (or an OSR entry clone of it)
    by its source name (the script as `script`), made unique by its first line when two
    functions share a name (methods of two classes); any other by its IR name."""

    def __init__(self, module):
        self.module = module
        short, origin = {}, {}
        for name in module.functions:
            match = LOX_FUNCTION.fullmatch(name)
            short[name] = match.group(1) if match else name
            origin[name] = name[:match.start(2)] if match and match.group(2) else name
        sources = {}
        for name in module.functions:
            sources.setdefault(short[name], set()).add(origin[name])
        self.origin = origin
        self.names = {name: (f"{short[name]}:{self.first_line(origin[name])}"
                             if len(sources[short[name]]) > 1 else short[name])
                      for name in module.functions}

    def first_line(self, func: str):
        """The first source line of a function's first version (None if it has none)."""
        function = self.module.functions.get(func)
        if function is None or not function.versions:
            return None
        lines = [i.line for b in function.versions[0].blocks for i in b.instrs if i.line]
        return min(lines) if lines else None

    def function(self, func: str) -> str:
        """A function's display name; a runtime frame's says what the runtime did
        ("(runtime: compiling @F)" names F as a function)."""
        if func.startswith(RUNTIME_PREFIX):
            what, _, compiled = func.partition(" @")
            return f"{what} {self.function(compiled[:-1])})" if compiled else func
        return self.names.get(func, func)

    def frame(self, frame) -> str:
        """A frame's display name: its function and tier."""
        return self.function(frame.func) + KIND_SUFFIX[frame.kind]


def stacks(samples, names: Names):
    """(thread name, frame names root first, weight, sample) of each sample."""
    for s in samples:
        yield s.thread_name, tuple(names.frame(f) for f in reversed(s.frames)), s.weight, s


# --- speedscope -----------------------------------------------------------------------

def speedscope(samples, names: Names, path: str, title: str) -> dict:
    """The speedscope file of the samples: one sampled profile per thread."""
    frames, index = [], {}
    profiles = defaultdict(lambda: {"samples": [], "weights": []})
    for thread, stack, weight, sample in stacks(samples, names):
        ids = []
        for frame, name in zip(reversed(sample.frames), stack):
            if name not in index:
                index[name] = len(frames)
                frames.append({"name": name, "file": path,
                               "line": names.first_line(names.origin.get(frame.func,
                                                                         frame.func)) or 0})
            ids.append(index[name])
        profile = profiles[thread]
        profile["samples"].append(ids)
        profile["weights"].append(round(weight * 1000, 4))
    return {"$schema": SCHEMA, "shared": {"frames": frames},
            "profiles": [_profile(thread, p) for thread, p in profiles.items()],
            "name": title, "activeProfileIndex": 0, "exporter": "offramp profile"}


def _profile(thread: str, data: dict) -> dict:
    total = round(sum(data["weights"]), 4)
    return {"type": "sampled", "name": f"thread {thread}", "unit": "milliseconds",
            "startValue": 0, "endValue": total, **data}


# --- collapsed stacks and the flame graph ---------------------------------------------

def collapsed(samples, names: Names) -> str:
    """One `frame;frame;... count` line per distinct stack (the thread's name first)."""
    counts = Counter()
    for thread, stack, _, _ in stacks(samples, names):
        counts[(f"thread {thread}",) + stack] += 1
    return "".join(f"{';'.join(s.replace(';', ':') for s in stack)} {n}\n"
                   for stack, n in sorted(counts.items()))


WIDTH, ROW, FONT = 1200, 16, 11


def svg(samples, names: Names, title: str) -> str:
    """A flame graph: the root (every sample) at the bottom, callees above their callers,
    each frame as wide as its samples."""
    tree = _Node("all")
    for thread, stack, _, _ in stacks(samples, names):
        tree.add((f"thread {thread}",) + stack)
    depth = tree.depth()
    height = (depth + 2) * ROW + 30
    out = [f'<?xml version="1.0" encoding="UTF-8"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'font-family="monospace" font-size="{FONT}">',
           f'<text x="{WIDTH // 2}" y="16" text-anchor="middle">{escape(title)}</text>']
    scale = (WIDTH - 20) / max(tree.count, 1)
    _draw(tree, 10.0, height - ROW - 4, scale, tree.count, out)
    out.append("</svg>")
    return "\n".join(out) + "\n"


class _Node:
    """A frame of the flame graph: its samples and its callees."""

    def __init__(self, name: str):
        self.name = name
        self.count = 0
        self.children = {}

    def add(self, stack) -> None:
        node = self
        node.count += 1
        for name in stack:
            node = node.children.setdefault(name, _Node(name))
            node.count += 1

    def depth(self) -> int:
        return 1 + max((c.depth() for c in self.children.values()), default=0)


def _draw(node: _Node, x: float, y: int, scale: float, total: int, out: list) -> None:
    """The node's rectangle at (x, y) and its callees above it, left to right by name."""
    width = node.count * scale
    share = 100.0 * node.count / max(total, 1)
    hue = 0 if "[native]" in node.name else 30 if "[inlined]" in node.name else 200
    out.append(f'<g><title>{escape(node.name)} ({node.count} samples, {share:.1f}%)</title>'
               f'<rect x="{x:.1f}" y="{y}" width="{max(width, 0.1):.1f}" height="{ROW - 1}" '
               f'fill="hsl({hue},70%,{60 + sum(map(ord, node.name)) % 20}%)"/>')
    chars = int(width // (FONT * 0.62))
    if chars >= 3:
        label = node.name if len(node.name) <= chars else node.name[:chars - 2] + ".."
        out.append(f'<text x="{x + 2:.1f}" y="{y + ROW - 4}">{escape(label)}</text>')
    out.append("</g>")
    for child in sorted(node.children.values(), key=lambda c: c.name):
        _draw(child, x, y - ROW, scale, total, out)
        x += child.count * scale


def write(format: str, samples, names: Names, path: str, stream) -> None:
    """Write the profile in `format` to `stream`."""
    if format == "speedscope":
        json.dump(speedscope(samples, names, path, f"offramp profile {path}"), stream)
        stream.write("\n")
    elif format == "collapsed":
        stream.write(collapsed(samples, names))
    else:
        stream.write(svg(samples, names, f"offramp profile {path}"))


# --- the terminal table ---------------------------------------------------------------

def top_table(samples, names: Names, rows: int = 10) -> list:
    """Lines of the hottest functions: self share (the innermost frame), total share
    (anywhere on the stack), the tiers self time ran in, and the hottest line."""
    total = sum(s.weight for s in samples) or 1.0
    own, inclusive = Counter(), Counter()
    tiers, lines = defaultdict(Counter), defaultdict(Counter)
    for s in samples:
        if not s.frames:
            continue
        leaf = s.frames[0]
        name = names.function(leaf.func)
        own[name] += s.weight
        tiers[name][leaf.kind] += s.weight
        lines[name][leaf.line] += s.weight
        for func in {names.function(f.func) for f in s.frames}:
            inclusive[func] += s.weight
    out = [f"{'self':>6} {'total':>6}  {'function':24} {'line':>5}  tiers (self)"]
    for name, weight in own.most_common(rows):
        line = lines[name].most_common(1)[0][0]
        kinds = ", ".join(f"{k} {100 * w / weight:.0f}%" for k, w in tiers[name].most_common())
        out.append(f"{100 * weight / total:5.1f}% {100 * inclusive[name] / total:5.1f}%  "
                   f"{name:24} {line if line is not None else '-':>5}  {kinds}")
    return out
