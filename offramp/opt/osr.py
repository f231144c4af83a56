"""OSR entry clones: a function that enters a version at a loop header.

`osr_entry(module, version, header)` builds `@f.osr.HEADER`, whose parameters are the values
live into the header — the header's block parameters first, in order, then the other
live-in variables sorted by name — and whose result is f's.  Its one version has a fresh
entry block taking those values and branching into a copy of every block of `version`
reachable from the header.  The copy keeps the original names, so `live_names` (returned
with the function) are also the names under which an interpreter frame stopped at the
header holds the values: the runtime reads them from the frame, calls the clone with them
and returns its result from that frame — the loop "made to be re-entered at any iteration".

Frame states are copied unchanged: they name versions of the original function, so a deopt
in the clone rebuilds ordinary frames of f, resuming the iteration the clone was in.

A header whose live-in variable is (re)defined in a block reachable from it cannot be
entered this way without a new phi (the value would have two definitions); that is refused.
"""
from ..ir.analysis import liveness, value_types
from ..ir.nodes import Block, Dest, Function, FunctionVersion, Instr, Var
from ..ir.types import FuncRefType, FuncSig
from .rewrite import NameSupply, as_version, definitions, successors


def osr_entry(module, version, header_label: str):
    """Add an OSR entry clone of `version` at `header_label`; return (Function, live names)."""
    version = as_version(module, version)
    func = module.functions[version.func]
    header = version.block(header_label)
    region = _reachable_from(version, header_label)
    defs = definitions(version)
    others = sorted(liveness(version)[header_label])
    clash = [n for n in others if defs.get(n, (None,))[0] in region]
    if clash:
        raise ValueError(f"@{version.func} %{header_label}: live-in "
                         f"{', '.join('%' + n for n in clash)} is defined inside the region "
                         f"reachable from the header; no OSR entry without a new phi")
    live_names = [n for n, _ in header.params] + others
    types = value_types(module, version).types
    param_types = tuple(types[n] for n in live_names)
    for ty in param_types:
        _name_type(module, ty, "osr.type")

    names = NameSupply(version)
    entry_params = [(names.fresh(f"osr.{n}"), t) for n, t in header.params]
    entry_params += [(n, types[n]) for n in others]
    entry = Block(names.fresh("osr.entry"), entry_params,
                  [Instr("BRANCH", (Dest(header_label,
                                         tuple(Var(n) for n, _ in entry_params[:len(header.params)])),))])
    copied = [Block(b.label, list(b.params), list(b.instrs)) for b in version.blocks
              if b.label in region]

    name = _fresh_function_name(module, f"{version.func}.osr.{header_label}")
    sig = FuncSig(param_types, tuple(func.sig.results))
    _name_type(module, sig, f"{name}.sig")
    clone = Function(name, sig, [FunctionVersion(name, version.name, [entry, *copied])])
    module.functions[name] = clone
    return clone, live_names


def _reachable_from(version, label: str) -> set:
    by_label = {b.label: b for b in version.blocks}
    seen, stack = {label}, [label]
    while stack:
        for s in successors(by_label[stack.pop()]):
            if s not in seen and s in by_label:
                seen.add(s)
                stack.append(s)
    return seen


def _name_type(module, ty, hint: str) -> None:
    """Make sure `ty` (a type or signature) has a name in module.types."""
    if any(t == ty for t in module.types.values()):
        return
    if isinstance(ty, FuncSig):
        for inner in ty.params + ty.results:
            _name_type(module, inner, "osr.type")
    elif isinstance(ty, FuncRefType):
        _name_type(module, ty.sig, "osr.sig")
    name, n = hint, 0
    while name in module.types:
        n += 1
        name = f"{hint}.{n}"
    module.types[name] = ty


def _fresh_function_name(module, base: str) -> str:
    taken = set(module.functions) | set(module.consts) | set(module.globals) | set(module.externs)
    name, n = base, 0
    while name in taken:
        n += 1
        name = f"{base}.{n}"
    return name
