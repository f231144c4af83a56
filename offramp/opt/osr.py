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

A live-in variable that is (re)defined in a block reachable from the header — an inner
loop reading the outer loop's counter — would have two definitions in the clone: the
entry's argument and its own definition, reached again when the outer loop goes round.
Such a variable gets a new parameter of the header (the phi SSA needs there): the entry
passes the interpreter's value, an edge from a block its definition dominates passes the
variable, any other edge the parameter; uses the definition does not dominate in the clone
read the parameter.  So in those blocks a baseline variable is held under another name:
`held_by(clone, baseline)` says which, for whoever builds frame states of the clone.
`live_names` still name the interpreter frame's variables.

That one parameter is enough only when the header is the one block past the entry where
both values of the variable meet.  When a loop inside the redefining one lies between
them — entering the innermost of three nested loops, whose outermost counter the middle
loop's header reads — the values meet there too, and a header parameter would hand the
middle loop a stale value.  Such clones are not built (`OSRUnsupported`): that loop stays
in the interpreter.
"""
from ..ir.analysis import (dominates, dominators_in_order, liveness, predecessors,
                           reachable_from, value_types)
from ..ir.nodes import Block, Dest, Function, FunctionVersion, Instr, Var
from ..ir.ops import Kind
from ..ir.types import FuncRefType, FuncSig
from .rewrite import NameSupply, as_version, definitions, map_operands


class OSRUnsupported(ValueError):
    """An entry clone at this header would need a variable's values merged at other
    blocks than the header (see the module docstring)."""


def osr_entry(module, version, header_label: str, live_in: dict | None = None,
              types: dict | None = None):
    """Add an OSR entry clone of `version` at `header_label`; return (Function, live names).

    `live_in` and `types` (the version's liveness and value types) may be given by a
    caller that keeps them."""
    version = as_version(module, version)
    func = module.functions[version.func]
    header = version.block(header_label)
    region = reachable_from(version, header_label)
    defs = definitions(version)
    live_names = entry_names(version, header_label, live_in)
    others = live_names[len(header.params):]
    clash = [n for n in others if defs.get(n, (None,))[0] in region]
    types = types if types is not None else value_types(module, version).types
    param_types = tuple(types[n] for n in live_names)
    for ty in param_types:
        _name_type(module, ty, "osr.type")

    names = NameSupply(version)
    entry_params = [(names.fresh(f"osr.{n}"), t) for n, t in header.params]
    held = [names.fresh(f"osr.{n}") if n in clash else n for n in others]
    entry_params += [(h, types[n]) for h, n in zip(held, others)]
    passed = [p for p, _ in entry_params[:len(header.params)]]
    passed += [h for h, n in zip(held, others) if n in clash]
    entry = Block(names.fresh("osr.entry"), entry_params,
                  [Instr("BRANCH", (Dest(header_label, tuple(Var(p) for p in passed)),))])
    copied = [Block(b.label, list(b.params), list(b.instrs)) for b in version.blocks
              if b.label in region]

    name = _fresh_function_name(module, f"{version.func}.osr.{header_label}")
    copy = FunctionVersion(name, version.name, [entry, *copied])
    if clash:
        live_in = live_in if live_in is not None else liveness(version)
        elsewhere = _merges_elsewhere(copy, header_label, clash, defs, live_in)
        if elsewhere:
            raise OSRUnsupported(f"@{version.func} %{version.name} loop %{header_label}: "
                                 f"values of {elsewhere[0][0]} would meet at "
                                 f"%{elsewhere[0][1]} too")
    sig = FuncSig(param_types, tuple(func.sig.results))
    _name_type(module, sig, f"{name}.sig")
    clone = Function(name, sig, [copy])
    if clash:
        _merge_redefined(clone.versions[0], header_label, clash, defs, types, names)
    module.functions[name] = clone
    return clone, live_names


def _merges_elsewhere(copy, header_label: str, clash: list, defs: dict, live_in: dict) -> list:
    """(variable, block) pairs where a variable of `clash` has two reaching definitions in
    the clone — its own and the entry's value — at a block other than the header into
    which it is live: the iterated dominance frontier of its definition."""
    order, idom = dominators_in_order(copy)
    preds = predecessors(copy)
    frontier = {label: set() for label in order}
    for label in order:
        reached = [p for p in preds[label] if p in frontier]
        if len(reached) < 2:
            continue
        for runner in reached:
            while runner is not None and runner != idom.get(label):
                frontier[runner].add(label)
                runner = idom.get(runner)
    out = []
    for name in clash:
        home = defs[name][0]
        merged, work = set(), [home]
        while work:
            for label in frontier.get(work.pop(), ()):
                if label not in merged:
                    merged.add(label)
                    work.append(label)
        out += [(name, label) for label in sorted(merged - {header_label, home})
                if name in live_in.get(label, ())]
    return out


def entry_names(version, header_label: str, live_in: dict | None = None) -> list:
    """The variables an entry clone at `header_label` takes, in order: the header's
    parameters, then the other variables live into it, sorted by name (`live_in`: the
    version's liveness, if the caller has it)."""
    header = version.block(header_label)
    live_in = live_in if live_in is not None else liveness(version)
    return [n for n, _ in header.params] + sorted(live_in[header_label])


def _merge_redefined(clone, header_label: str, clash: list, defs: dict, types: dict,
                     names: NameSupply) -> None:
    """Give each variable in `clash` a header parameter and route uses and edges to it
    (see the module docstring); the entry's branch already passes their values."""
    _, idom = dominators_in_order(clone)
    header = clone.block(header_label)
    phi = {n: names.fresh(f"{n}.osr") for n in clash}
    header.params = header.params + [(phi[n], types[n]) for n in clash]
    for block in clone.blocks[1:]:
        rename = {n: phi[n] for n in clash if not dominates(defs[n][0], block.label, idom)}
        if rename:
            block.instrs = [map_operands(i, lambda o, ok: Var(rename[o.name])
                                         if isinstance(o, Var) and o.name in rename else o)
                            for i in block.instrs]
        extra = tuple(Var(rename.get(n, n)) for n in clash)
        block.instrs[-1] = _extend_edges(block.instrs[-1], header_label, extra)


def held_by(clone, baseline, live_in: dict | None = None) -> dict:
    """For an OSR clone of `baseline`: block label -> {baseline variable: the clone's
    variable holding it there}, for the variables whose header parameter replaces them
    (empty when none does).  Derived from the clone itself: the entry's parameters follow
    `live_names`' order, and its branch passes the values of the new header parameters
    after the header's own.  `live_in`: the baseline's liveness, if the caller has it."""
    entry = clone.blocks[0]
    jump = entry.instrs[-1].arg("dest")
    header = clone.block(jump.label)
    own = len(baseline.block(jump.label).params)
    if len(header.params) == own:
        return {}
    live_names = entry_names(baseline, jump.label, live_in)
    by_entry_param = {p: n for (p, _), n in zip(entry.params, live_names)}
    phis = {by_entry_param[arg.name]: p for arg, (p, _) in
            zip(jump.args[own:], header.params[own:])}
    defs = definitions(clone)
    _, idom = dominators_in_order(clone)
    return {b.label: {n: phi for n, phi in phis.items()
                      if not dominates(defs[n][0], b.label, idom)}
            for b in clone.blocks[1:]}


def _extend_edges(instr, target: str, extra: tuple):
    """`instr` (a terminator) with `extra` appended to the arguments of its edges to
    `target`."""
    if not any(d.label == target for d in instr.dests()):
        return instr
    operands = []
    for spec, operand in zip(instr.opdef.syntax, instr.operands):
        if spec.kind is Kind.DEST and operand.label == target:
            operand = Dest(target, operand.args + extra)
        elif spec.kind is Kind.CASES:
            operand = tuple((k, Dest(target, d.args + extra) if d.label == target else d)
                            for k, d in operand)
        operands.append(operand)
    return instr.renamed(operands=tuple(operands))


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
