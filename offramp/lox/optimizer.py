"""The Lox optimizer: what tier-up compiles for a function (`VM.set_optimizer`).

For a Lox function, or an OSR entry clone of one:
1. speculate (speculate.py) from its baseline and profiles, leaving generic the sites whose
   guards failed before: those `runtime.failed_sites[function]` lists, and every site whose
   guard reason (`runtime.guard_sites`) has a deopt count in the VM's statistics (tiering
   does not recompile after deopts yet, so this matters when something recompiles);
2. run `opt.pipeline.optimize`: inline the small callees that are already speculated (a
   callee's baseline would bring its PROFILEs and generic helpers; natives are not inlined,
   so `deoptHere()` keeps its own frame), fold, remove dead code, share frame states;
3. verify the result, append it to the function's versions (frames and calls find it there;
   it becomes current) and count it in `runtime.stats` for `--stats`.
The runtime library's IR functions (natives, `lox.rt.*`) are compiled as they are.
"""
from ..ir.verify import verify_version
from ..opt.pipeline import optimize
from .speculate import count_sites, original_function, speculate

INLINE_MAX_INSTRUCTIONS = 80   # a callee larger than this stays a call
LIBRARY_PREFIXES = ("lox.native.", "lox.rt.")


def make_optimizer(runtime, verify_passes: bool = False):
    """The function `vm.set_optimizer` takes: (vm, Function) -> an installed version."""
    produced = set()   # ids of versions made here: the callees worth inlining

    def should_inline(call, callee_version) -> bool:
        if id(callee_version) not in produced:
            return False
        return sum(len(b.instrs) for b in callee_version.blocks) <= INLINE_MAX_INSTRUCTIONS

    def optimizer(vm, function):
        if function.name.startswith(LIBRARY_PREFIXES):
            return function.current
        module = runtime.program.module
        name = fresh_version_name(function)
        excluded = failed_sites(runtime, original_function(module, function))
        speculated = speculate(runtime, function, excluded, name)
        if verify_passes:
            verify_version(module, speculated)
        counts = {}
        version = optimize(module, speculated, name, inline=should_inline, stats=counts,
                           verify=verify_passes)
        verify_version(module, version)
        function.versions.append(version)
        produced.add(id(version))
        record(runtime.stats, counts, count_sites(speculated))
        return version

    return optimizer


def fresh_version_name(function) -> str:
    """`sN`, the first N not naming a version of `function` yet."""
    taken = {v.name for v in function.versions}
    n = 1
    while f"s{n}" in taken:
        n += 1
    return f"s{n}"


def failed_sites(runtime, func_name: str) -> frozenset:
    """Sites of `func_name` to leave generic: reported ones and those whose guards failed."""
    sites = set(runtime.failed_sites.get(func_name, ()))
    stats = runtime.vm.stats()
    for key in ("deopts by reason", "native deopts by reason"):
        for reason in stats.get(key, {}):
            where = runtime.guard_sites.get(reason)
            if where is not None and where[0] == func_name:
                sites.add(where[1])
    return frozenset(sites)


def record(stats: dict, frame_states: dict, guards) -> None:
    """Add one optimized version's counts to the runtime's `--stats` counters."""
    stats["speculated versions"] = stats.get("speculated versions", 0) + 1
    for key, value in frame_states.items():
        stats[key] = stats.get(key, 0) + value
    by_kind = stats.setdefault("guards by speculation", {})
    for kind, n in guards.items():
        by_kind[kind] = by_kind.get(kind, 0) + n
