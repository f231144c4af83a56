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
loop reading an outer loop's counter — has two definitions in the clone: the entry's
argument and its own definition, reached again when the outer loop goes round.  SSA is
rebuilt for it: every block its definition does not dominate and that more than one edge
enters (the header first of all, and the headers of the loops around it) gets a new
parameter for it (the phi SSA needs there), each edge passes the name that reaches the
end of its block (the variable itself where its definition dominates, the entry's argument
out of the entry, else the block's parameter or what its one predecessor passes on), and
uses the definition does not dominate read the name that reaches their block.  So in those
blocks a baseline variable is held under another name: `held_by(clone, baseline)` says
which, for whoever builds frame states of the clone.  `live_names` still name the
interpreter frame's variables.
"""
from ..ir.analysis import (dominates, dominators_in_order, liveness, predecessors,
                            reachable_from, value_types)
from ..ir.nodes import Block, Dest, Function, FunctionVersion, Instr, Var
from ..ir.ops import Kind
from ..ir.types import FuncRefType, FuncSig
from .rewrite import NameSupply, as_version, definitions, map_operands


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
    sig = FuncSig(param_types, tuple(func.sig.results))
    _name_type(module, sig, f"{name}.sig")
    clone = Function(name, sig, [FunctionVersion(name, version.name, [entry, *copied],
                                                 unsafe=version.unsafe)])
    if clash:
        _merge_redefined(clone.versions[0], header_label, clash, defs, types, names)
    module.functions[name] = clone
    return clone, live_names


def entry_names(version, header_label: str, live_in: dict | None = None) -> list:
    """The variables an entry clone at `header_label` takes, in order: the header's
    parameters, then the other variables live into it, sorted by name (`live_in`: the
    version's liveness, if the caller has it)."""
    header = version.block(header_label)
    live_in = live_in if live_in is not None else liveness(version)
    return [n for n, _ in header.params] + sorted(live_in[header_label])


def _merge_redefined(clone, header_label: str, clash: list, defs: dict, types: dict,
                     names: NameSupply) -> None:
    """Rebuild SSA for each variable in `clash` (see the module docstring); the entry's
    branch already passes their values to the header, after its own parameters."""
    def new_param(block, n, merged):
        param = names.fresh(f"{n}.osr")
        block.params = block.params + [(param, types[n])]
        return param
    entry_values = dict(zip(clash, (a.name for a in
                                    clone.blocks[0].instrs[-1].arg("dest").args[-len(clash):])))
    starts, ends, joins = _reaching_names(clone, header_label, clash, defs, entry_values,
                                          new_param)
    for block in clone.blocks[1:]:
        rename = starts.get(block.label, {})
        if rename:
            block.instrs = [map_operands(i, lambda o, ok: Var(rename[o.name])
                                         if isinstance(o, Var) and o.name in rename else o)
                            for i in block.instrs]
        for target, merged in joins.items():
            if target == header_label and block is clone.blocks[0]:
                continue               # the entry's branch passes them already
            extra = tuple(Var(ends[block.label][n]) for n in merged)
            block.instrs[-1] = _extend_edges(block.instrs[-1], target, extra)


def _reaching_names(clone, header_label: str, clash: list, defs: dict, entry_values: dict,
                    param_for):
    """For the clashing variables of an OSR clone: (block -> {variable: name reaching the
    block's start}, for the blocks their definitions do not dominate; block -> {variable:
    name reaching its end}; join block -> the variables it takes parameters for, in
    `clash` order).  `param_for(block, variable, merged)` names a join block's parameter
    for `variable`, one of the `merged` ones: made anew by osr_entry, read back by
    held_by."""
    order, idom = dominators_in_order(clone)
    preds = predecessors(clone)
    by_label = {b.label: b for b in clone.blocks}
    entry = clone.blocks[0].label
    starts, ends, joins = {}, {entry: dict(entry_values)}, {}
    for label in order[1:]:
        block = by_label[label]
        outside = [n for n in clash if not dominates(defs[n][0], label, idom)]
        if outside and (len(preds[label]) > 1 or label == header_label):
            joins[label] = outside
            start = {n: param_for(block, n, outside) for n in outside}
        else:
            start = {n: ends[preds[label][0]][n] for n in outside}
        starts[label] = start
        ends[label] = {n: start.get(n, n) for n in clash}
    return starts, ends, joins


def held_by(clone, baseline, live_in: dict | None = None) -> dict:
    """For an OSR clone of `baseline`: block label -> {baseline variable: the clone's
    variable holding it there}, for the variables whose new parameters replace them
    (empty when none does).  Derived from the clone itself: the entry's parameters follow
    `live_names`' order, its branch passes the clashing variables' values after the
    header's own parameters, and each join block's new parameters come last, in that
    order.  `live_in`: the baseline's liveness, if the caller has it."""
    entry = clone.blocks[0]
    jump = entry.instrs[-1].arg("dest")
    own = len(baseline.block(jump.label).params)
    extra = jump.args[own:]
    if not extra:
        return {}
    live_names = entry_names(baseline, jump.label, live_in)
    by_entry_param = {p: n for (p, _), n in zip(entry.params, live_names)}
    clash = [by_entry_param[a.name] for a in extra]
    defs = definitions(clone)

    def param_for(block, n, merged):
        return block.params[len(block.params) - len(merged) + merged.index(n)][0]
    starts, _, _ = _reaching_names(clone, jump.label, clash, defs,
                                   {n: a.name for n, a in zip(clash, extra)}, param_for)
    return {b.label: dict(starts.get(b.label, {})) for b in clone.blocks[1:]}


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
