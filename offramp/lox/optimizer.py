"""The Lox optimizer: what tier-up compiles for a function (`VM.set_optimizer`).

For a Lox function, or an OSR entry clone of one:
1. speculate (speculate.py) from its baseline and profiles, without the speculations that
   failed before — every deopt reason filed for the function in `runtime.guard_sites` that
   the VM counted: the VM's `failed_speculations` (guard failures in native code; tiering
   invalidates code whose guards keep failing and recompiles it), and the deopts of native
   code and of the interpreter (which runs installed versions when it cannot enter native
   code) — and leaving `runtime.failed_sites[function]` generic.  Guards resume at the
   PROFILEs of their site, so the profile has seen the value that failed and the new
   speculation can differ (a shape guard for the two shapes seen since).  Once the VM says
   `may_speculate` no more (recompilations are bounded), only the rewrites that need no
   guard are made;
2. speculate, the same way, every Lox function the result calls directly and whose baseline
   has run (it has profiles) — recursively, to the inliner's depth — as versions for
   inlining only: they are not installed, and they are made afresh for each compilation,
   so they use the profiles as they are now (a callee's speculation from an earlier
   compilation may be stale: a new shape has come since);
3. run `opt.pipeline.optimize`: inline the small callee versions made here whose guards
   have not failed (a callee's baseline would bring its PROFILEs and generic helpers;
   natives are not inlined, so `deoptHere()` keeps its own frame, except a Lock's acquire
   and release, whose biased fast path is the point), fold, remove
   redundancy and dead code, share frame states;
4. register the assumptions the result relies on — its own and those of every callee
   version made for it (inlined code assumes what its speculation assumed) — with the
   VM (runtime/assumptions.py: a broken one drops the version), append the result to
   the function's versions (frames and calls find it there; it becomes current; the
   interpreter runs it only if it assumes nothing) and count it in `runtime.stats`.
The runtime library's IR functions (natives, `lox.rt.*`) are compiled as they are.
"""
from ..ir.nodes import Sym
from ..ir.verify import verify_version
from ..opt.inline import DEFAULT_MAX_DEPTH, called_function
from ..opt.pipeline import optimize
from .allocation import PREFIX as ALLOCATOR_PREFIX
from .locks import FAST_PATHS
from .natives import NATIVES
from .speculate import count_sites, original_function, speculate

INLINE_MAX_INSTRUCTIONS = 80   # a callee larger than this stays a call
LIBRARY_PREFIXES = ("lox.native.", "lox.rt.")
LOCK_NATIVES = frozenset(n.ir_name for n in NATIVES if n.helper in FAST_PATHS)


def make_optimizer(runtime, verify_passes: bool = False):
    """The function `vm.set_optimizer` takes: (vm, Function) -> an installed version.

    `verify_passes` verifies the speculated version and the result of every pass (tests)."""
    produced = set()   # ids of the versions made here: the callees worth inlining
    module = runtime.program.module

    def build(vm, function, failed: set, callees: dict, depth: int, caches: bool = True):
        """Speculate and optimize `function` (not installed), its callees speculated first;
        method calls become inline caches only with `caches`."""
        name = fresh_version_name(function)
        base = original_function(module, function)
        speculated = speculate(runtime, function, runtime.failed_sites.get(base, ()), name,
                               guarded=vm.may_speculate(base),
                               failed_reasons=failed_reasons(runtime, base, failed),
                               method_caches=caches)
        if verify_passes:
            verify_version(module, speculated)
        for library in library_inlined(speculated):
            callees[library] = module.functions[library].current
            produced.add(id(callees[library]))
        if depth < DEFAULT_MAX_DEPTH:
            for callee in callees_to_speculate(runtime, speculated, callees):
                callees[callee] = None      # a recursive call is never inlined
                callees[callee] = build(vm, module.functions[callee], failed, callees,
                                        depth + 1, caches)
        counts = {} if vm.config.stats else None
        version = optimize(module, speculated, name, stats=counts, verify=verify_passes,
                           inline=lambda call, callee: should_inline(callee, produced, failed),
                           callee_version=lambda callee: callees.get(callee))
        produced.add(id(version))
        # What the callees made here assumed, the caller assumes too (when inlined).
        version.assumptions = speculated.assumptions.union(
            *(c.assumptions for c in callees.values() if c is not None))
        # So is code the interpreter cannot run (a method call's inline cache).
        version.native_only = speculated.native_only or any(
            c.native_only for c in callees.values() if c is not None)
        record(runtime.stats, counts, count_sites(speculated))
        return version

    def optimizer(vm, function):
        if function.name.startswith(LIBRARY_PREFIXES):
            return function.current
        version = build(vm, function, failed_anywhere(runtime), {}, 0)
        caches = not (version.native_only and resumes_in_itself(version))
        if not caches:
            version = build(vm, function, failed_anywhere(runtime), {}, 0, caches)
        if not vm.assumptions.valid(version):
            # Assuming one thing broke another it relied on (a callee assumed a global
            # keeps its value; the caller stored to it, assuming it unwatched): once more,
            # with what is broken now known.
            version = build(vm, function, failed_anywhere(runtime), {}, 0, caches)
        vm.assumptions.depend(version, version.assumptions)
        function.versions.append(version)
        return version

    return optimizer


def library_inlined(version) -> set:
    """The library functions `version` calls that are inlined as they are: the instance
    allocators (allocation.py) and a Lock's acquire and release (locks.py)."""
    return {i.arg("callee").name for b in version.blocks for i in b.instrs
            if i.op == "CALL" and isinstance(i.arg("callee"), Sym)
            and (i.arg("callee").name.startswith(ALLOCATOR_PREFIX)
                 or i.arg("callee").name in LOCK_NATIVES)}


def resumes_in_itself(version) -> bool:
    """Whether native code of `version` may deoptimize into `version` itself, which the
    interpreter then runs: an instruction that may leave with no frame state of its own
    (library code inlined as it is: an allocator, a Lock's acquire) resumes in the version
    compiled (native/lower.py, `identity_state`).  A native-only version (a method call's
    inline cache) must not: it is built again without method caches."""
    return any(instr.opdef.state_position is not None and instr.state() is None
               for block in version.blocks for instr in block.instrs)


def callees_to_speculate(runtime, version, done: dict) -> list:
    """Lox functions `version` calls directly, not yet in `done`, whose baselines have run."""
    module, interp = runtime.program.module, runtime.vm.interp
    found = []
    for block in version.blocks:
        for instr in block.instrs:
            name = called_function(module, instr)
            if (name is None or name in done or name in found or name == version.func
                    or name.startswith(LIBRARY_PREFIXES)):
                continue
            if has_run(interp.code_for(module.functions[name].versions[0])):
                found.append(name)
    return found


def has_run(baseline_code) -> bool:
    """Whether a baseline has a profile: it ran in the interpreter, or compiled code of it
    recorded samples where it was compiled without them (speculate.keep_profiling)."""
    return bool(baseline_code.entry_count) or any(baseline_code.profiles.values())


def should_inline(callee_version, produced: set, failed: set) -> bool:
    """Inline small versions made by this optimizer whose guards have not failed (one that
    failed waits for its function's recompilation); not the library's natives, so that
    `deoptHere()` keeps a frame of its own."""
    if id(callee_version) not in produced:
        return False
    if sum(len(b.instrs) for b in callee_version.blocks) > INLINE_MAX_INSTRUCTIONS:
        return False
    return not any(i.op == "GUARD" and i.arg("reason") in failed
                   for b in callee_version.blocks for i in b.instrs)


def fresh_version_name(function) -> str:
    """`sN`, the first N not naming a version of `function` yet."""
    taken = {v.name for v in function.versions}
    n = 1
    while f"s{n}" in taken:
        n += 1
    return f"s{n}"


def failed_reasons(runtime, func_name: str, failed: set) -> frozenset:
    """The deopt reasons of `func_name`'s speculations that the VM saw fail (in its own
    code, or inlined in another function's): `failed` and the VM's failed speculations."""
    seen = set(runtime.vm.failed_speculations(func_name)) | failed
    return frozenset(r for r in seen if runtime.guard_sites.get(r, ("",))[0] == func_name)


def failed_anywhere(runtime) -> set:
    """Every deopt reason the VM counted, in the interpreter and in native code."""
    stats = runtime.vm.stats()
    return set(stats["deopts by reason"]) | set(stats.get("native deopts by reason", ()))


def record(stats: dict, frame_states: dict | None, guards) -> None:
    """Add one optimized version's counts to the runtime's `--stats` counters (frame
    states are counted only when `--stats` will print them: counting hashes every state)."""
    stats["speculated versions"] = stats.get("speculated versions", 0) + 1
    for key, value in (frame_states or {}).items():
        stats[key] = stats.get(key, 0) + value
    by_kind = stats.setdefault("guards by speculation", {})
    for kind, n in guards.items():
        by_kind[kind] = by_kind.get(kind, 0) + n
