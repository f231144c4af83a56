"""Turning a function version into steps the interpreter loop runs.

Each instruction becomes a *step*: a closure over register slot numbers that takes the
frame's register list and returns None (fall through), an int (jump to that pc), or an
action tuple for the loop to handle (call, return, trap, deopt, safepoint).  Every operand
is a slot: literals and constants get slots of their own, filled in the frame template, so
steps never ask what kind of operand they read.

`HANDLERS` maps every opcode of `ir.ops.OPS` to the function building its step; the
completeness test checks that none is missing.
"""
from collections import Counter

from ..ir import tagref
from ..ir.analysis import live_before_each, liveness, loop_bodies, uses, value_types
from ..ir.nodes import FrameState, Imm, Var
from ..ir.ops import Kind
from ..ir.types import DoubleType, IntType, RefType, byte_width, is_traced
from . import semantics as sem
from .errors import GuestError, VMError

# Action tags: the first element of a non-int step result.
CALL, RET, TRAP, DEOPT, SAFEPOINT, HOT_LOOP, BREAK = range(7)
INLINED_TRAP = "trap in inlined code"     # the deopt reason that unfolds one


class CompiledVersion:
    """A version flattened into steps, with the slot map and the resume point table."""

    def __init__(self, interp, version):
        self.interp = interp
        self.version = version
        self.func = interp.module.functions[version.func]
        self.ctx = value_types(interp.module, version)
        self.slots = {}
        self.template = []
        self.const_slots = {}
        self.steps, self.instrs, self.locations, self.resume = [], [], [], []
        self.block_pc = {}
        self.entry_count = 0
        self.loop_counts = {}     # header pc -> iterations so far
        self.hot_at = {}          # header pc -> the count at which it reports a hot loop
        self.profiles = {}
        self._keepalives = {}
        self._live_in = None
        self._live_before = {}
        self._use_counts = None
        self._layout()
        self._compile()

    def _layout(self):
        """Number the SSA names and flatten the blocks into one pc space."""
        for block in self.version.blocks:
            for name, _ in block.params:
                self._new_slot(name)
            for instr in block.instrs:
                for r in instr.results:
                    self._new_slot(r)
        for block in self.version.blocks:
            self.block_pc[block.label] = len(self.instrs)
            for i, instr in enumerate(block.instrs):
                self.instrs.append(instr)
                self.locations.append((block.label, i))
        self.entry_slots = [self.slots[n] for n, _ in self.version.blocks[0].params]
        self.word_slots = [self.slots[n] for n, t in self.ctx.types.items()
                           if n in self.slots and is_traced(t) and not isinstance(t, RefType)]
        self.ref_slots = [self.slots[n] for n, t in self.ctx.types.items()
                          if n in self.slots and isinstance(t, RefType)]
        bodies = loop_bodies(self.version)
        self.headers = {self.block_pc[h] for h in bodies}
        self.loops_of = {}        # block label -> pcs of the headers of loops containing it
        for header, body in bodies.items():
            for label in body:
                self.loops_of.setdefault(label, []).append(self.block_pc[header])

    def _new_slot(self, name):
        if name in self.slots:
            raise VMError(f"@{self.version.func}: SSA name %{name} defined twice")
        self.slots[name] = len(self.template)
        self.template.append(None)

    def _compile(self):
        for pc, instr in enumerate(self.instrs):
            build = HANDLERS[instr.op]
            self.steps.append(build(self, instr, pc))
            self.resume.append(_resume_after(self, instr, pc))

    def slot(self, operand, expected=None) -> int:
        """The register slot holding `operand` (literals and symbols get constant slots)."""
        if isinstance(operand, Var):
            try:
                return self.slots[operand.name]
            except KeyError:
                raise VMError(f"@{self.version.func}: use of undefined %{operand.name}")
        value = self.constant(operand, expected)
        key = (type(value), repr(value) if isinstance(value, float) else id(value)
               if not isinstance(value, int) else value)
        if key not in self.const_slots:
            self.const_slots[key] = len(self.template)
            self.template.append(value)
        return self.const_slots[key]

    def constant(self, operand, expected):
        """The value of a literal or a module symbol."""
        if isinstance(operand, Imm):
            if expected is None:
                return operand.value
            return sem.literal_value(operand.value, expected)
        return self.interp.symbol_value(operand.name)

    def expected(self, instr, spec):
        """The type the table requires at an operand position."""
        return spec.expect(instr, self.ctx) if spec.expect else None

    def arg_slots(self, instr, name, types):
        """Slots of a VALUES operand whose element types are `types`."""
        operands = instr.arg(name)
        return [self.slot(o, t) for o, t in zip(operands, _pad(types, len(operands)))]

    def dest_step(self, dest):
        """Parallel-copy the arguments into the target's parameters; count loop entries."""
        target = self.version.block(dest.label)
        params = [self.slots[n] for n, _ in target.params]
        args = [self.slot(a, t) for a, (_, t) in zip(dest.args, target.params)]
        tpc = self.block_pc[dest.label]
        if tpc in self.headers:
            self.loop_counts[tpc] = 0
            self.hot_at[tpc] = self.interp.loop_threshold or -1
        return params, args, tpc

    def jump(self, dest):
        """The step fragment that branches to `dest` (binding its parameters)."""
        return _copy_to(*self.dest_step(dest), self.loop_counts, self.hot_at)

    def live_in(self) -> dict:
        """`ir.analysis.liveness` of the version, computed once: every compilation that
        builds frame states resuming in this version (a baseline does not change) asks."""
        if self._live_in is None:
            self._live_in = liveness(self.version)
        return self._live_in

    def live_before(self, label: str) -> list:
        """`ir.analysis.live_before_each` of one block of the version, computed once."""
        live = self._live_before.get(label)
        if live is None:
            live = self._live_before[label] = live_before_each(self.version, label,
                                                               self.live_in())
        return live

    def use_counts(self) -> Counter:
        """How many times each SSA name is read in the version, computed once."""
        if self._use_counts is None:
            self._use_counts = Counter(u for b in self.version.blocks for i in b.instrs
                                       for u in uses(i))
        return self._use_counts

    def loops_at(self, pc: int) -> tuple:
        """The pcs of the headers of the loops containing `pc` (innermost not first)."""
        return tuple(self.loops_of.get(self.locations[pc][0], ()))

    def rearm_hot_loops(self, pc: int, after: int = 1) -> tuple:
        """Make each loop containing `pc` report a hot loop (again) within `after` more
        iterations (a report already due sooner stays); the pcs of their headers (none if
        `pc` is in no loop)."""
        headers = self.loops_at(pc)
        for header in headers:
            count, due = self.loop_counts[header], self.hot_at[header]
            if due <= count or count + after < due:
                self.hot_at[header] = count + after
        return headers

    def keepalive_slots(self, pc):
        """Slots of the KEEPALIVE values of the instruction at `pc`."""
        if pc not in self._keepalives:
            instr = self.instrs[pc]
            ka = ()
            for spec, op in zip(instr.opdef.syntax, instr.operands):
                if spec.kind is Kind.KEEPALIVE:
                    ka = tuple(self.slot(o, self.ctx.type_of(o)) for o in op)
            self._keepalives[pc] = ka
        return self._keepalives[pc]

    def result_slot(self, instr):
        return self.slots[instr.results[0]] if instr.results else None


def _pad(types, n):
    types = list(types)
    return types + [None] * (n - len(types))


def _resume_after(code, instr, pc):
    """How a waiting frame at `pc` resumes when handed values: bind results, go on."""
    if instr.op == "WATCHPOINT":
        params, args, tpc = code.dest_step(instr.arg("enabled"))

        def resume_watchpoint(regs, values):
            vals = [regs[a] for a in args] + list(values)
            for s, v in zip(params, vals):
                regs[s] = v
            return tpc
        return resume_watchpoint
    slots = [code.slots[r] for r in instr.results]

    def resume(regs, values):
        if len(values) != len(slots):
            raise VMError(f"{instr.op} at pc {pc} expects {len(slots)} resumption value(s), "
                          f"got {len(values)}")
        for s, v in zip(slots, values):
            regs[s] = v
        return pc + 1
    return resume


# --- step builders -------------------------------------------------------------------

def _binary(fn_for_type):
    """A step builder for a two-operand instruction given fn(type) -> python function."""
    def build(code, instr, pc):
        ty = instr.arg("type")
        a, b = code.slot(instr.arg("a"), ty), code.slot(instr.arg("b"), ty)
        r = code.result_slot(instr)
        fn = fn_for_type(ty)

        def step(regs):
            regs[r] = fn(regs[a], regs[b])
        return step
    return build


def _int_op(op):
    """Wrap a Python integer operation to the type's width."""
    def for_type(ty):
        mask = (1 << ty.bits) - 1
        return lambda x, y: op(x, y) & mask
    return for_type


def _shift(op):
    def for_type(ty):
        bits, mask = ty.bits, (1 << ty.bits) - 1
        return lambda x, y: op(x, y % bits, bits) & mask
    return for_type


def _signed_cmp(op):
    def for_type(ty):
        bits = ty.bits
        return lambda x, y: int(op(sem.signed(x, bits), sem.signed(y, bits)))
    return for_type


def _plain(op):
    return lambda ty: op


HANDLERS = {
    "ADD": _binary(_int_op(lambda x, y: x + y)),
    "SUB": _binary(_int_op(lambda x, y: x - y)),
    "MUL": _binary(_int_op(lambda x, y: x * y)),
    "SDIV": _binary(lambda ty: lambda x, y: sem.sdiv(x, y, ty.bits)),
    "SREM": _binary(lambda ty: lambda x, y: sem.srem(x, y, ty.bits)),
    "UDIV": _binary(_plain(sem.udiv)),
    "UREM": _binary(_plain(sem.urem)),
    "SHL": _binary(_shift(lambda x, n, bits: x << n)),
    "LSHR": _binary(_shift(lambda x, n, bits: x >> n)),
    "ASHR": _binary(_shift(lambda x, n, bits: sem.signed(x, bits) >> n)),
    "AND": _binary(_plain(lambda x, y: x & y)),
    "OR": _binary(_plain(lambda x, y: x | y)),
    "XOR": _binary(_plain(lambda x, y: x ^ y)),
    "FADD": _binary(_plain(sem.fadd)),
    "FSUB": _binary(_plain(sem.fsub)),
    "FMUL": _binary(_plain(sem.fmul)),
    "FDIV": _binary(_plain(sem.fdiv)),
    "FREM": _binary(_plain(sem.frem)),
    "EQ": _binary(_plain(lambda x, y: int(x == y if not isinstance(x, float) else
                                          tagref.double_bits(x) == tagref.double_bits(y)))),
    "NE": _binary(_plain(lambda x, y: int(x != y if not isinstance(x, float) else
                                          tagref.double_bits(x) != tagref.double_bits(y)))),
    "SLT": _binary(_signed_cmp(lambda x, y: x < y)),
    "SLE": _binary(_signed_cmp(lambda x, y: x <= y)),
    "SGT": _binary(_signed_cmp(lambda x, y: x > y)),
    "SGE": _binary(_signed_cmp(lambda x, y: x >= y)),
    "ULT": _binary(_plain(lambda x, y: int(x < y))),
    "ULE": _binary(_plain(lambda x, y: int(x <= y))),
    "UGT": _binary(_plain(lambda x, y: int(x > y))),
    "UGE": _binary(_plain(lambda x, y: int(x >= y))),
    "FOEQ": _binary(_plain(lambda x, y: int(x == y))),
    "FONE": _binary(_plain(lambda x, y: int(x < y or x > y))),
    "FOLT": _binary(_plain(lambda x, y: int(x < y))),
    "FOLE": _binary(_plain(lambda x, y: int(x <= y))),
    "FOGT": _binary(_plain(lambda x, y: int(x > y))),
    "FOGE": _binary(_plain(lambda x, y: int(x >= y))),
    "FUNE": _binary(_plain(lambda x, y: int(x != y))),
    "FUNO": _binary(_plain(lambda x, y: int(x != x or y != y))),
}


def _unary_handler(make_fn):
    """A step builder for one-operand instructions: make_fn(instr) -> python function."""
    def build(code, instr, pc):
        spec = instr.opdef.syntax[instr.opdef.position("a")]
        a = code.slot(instr.arg("a"), code.expected(instr, spec))
        r = code.result_slot(instr)
        fn = make_fn(instr)

        def step(regs):
            regs[r] = fn(regs[a])
        return step
    return build


def _conversion(instr):
    src, dst = instr.arg("types")
    op = instr.op
    if op == "TRUNC":
        mask = (1 << dst.bits) - 1
        return lambda v: v & mask
    if op == "ZEXT":
        return lambda v: v
    if op == "SEXT":
        mask = (1 << dst.bits) - 1
        return lambda v: sem.signed(v, src.bits) & mask
    if op == "SITOFP":
        return lambda v: float(sem.signed(v, src.bits))
    if op == "UITOFP":
        return float
    if op == "FPTOSI":
        return lambda v: sem.fptosi(v, dst.bits)
    if isinstance(src, DoubleType):
        return tagref.double_bits
    return tagref.bits_double


HANDLERS.update({
    "FNEG": _unary_handler(lambda instr: lambda v: -v),
    "TRUNC": _unary_handler(_conversion),
    "ZEXT": _unary_handler(_conversion),
    "SEXT": _unary_handler(_conversion),
    "SITOFP": _unary_handler(_conversion),
    "UITOFP": _unary_handler(_conversion),
    "FPTOSI": _unary_handler(_conversion),
    "BITCAST": _unary_handler(_conversion),
    "TR64_IS_FP": _unary_handler(lambda i: lambda w: int(tagref.is_fp(w))),
    "TR64_IS_REF": _unary_handler(lambda i: lambda w: int(tagref.is_ref(w))),
    "TR64_IS_INT": _unary_handler(lambda i: lambda w: int(tagref.is_int(w))),
    "TR64_TO_FP": _unary_handler(lambda i: tagref.to_fp),
    "TR64_TO_REF": _unary_handler(lambda i: tagref.to_ref),
    "TR64_TO_INT": _unary_handler(lambda i: tagref.to_int),
    "TR64_FROM_FP": _unary_handler(lambda i: tagref.from_fp),
    "TR64_FROM_REF": _unary_handler(lambda i: tagref.from_ref),
    "TR64_FROM_INT": _unary_handler(lambda i: tagref.from_int),
})


def _select(code, instr, pc):
    ty = instr.arg("type")
    c = code.slot(instr.arg("cond"), None)
    a, b = code.slot(instr.arg("a"), ty), code.slot(instr.arg("b"), ty)
    r = code.result_slot(instr)

    def step(regs):
        regs[r] = regs[a] if regs[c] else regs[b]
    return step


def _load(code, instr, pc):
    ty, offset = instr.arg("type"), instr.arg("offset")
    base = code.slot(instr.arg("base"), None)
    r = code.result_slot(instr)
    read = code.interp.memory_reader(ty)

    def step(regs):
        try:
            regs[r] = read(regs[base] + offset)
        except ValueError:
            raise _bad_access(instr, regs[base] + offset) from None
    return step


def _store(code, instr, pc):
    ty, offset = instr.arg("type"), instr.arg("offset")
    base = code.slot(instr.arg("base"), None)
    v = code.slot(instr.arg("value"), ty)
    write = code.interp.memory_writer(ty)

    def step(regs):
        try:
            write(regs[base] + offset, regs[v])
        except ValueError:
            raise _bad_access(instr, regs[base] + offset) from None
    return step


def _thread_local(code, instr, pc):
    offset = instr.arg("offset")
    r = code.result_slot(instr)
    interp = code.interp

    def step(regs):
        if interp.thread_block_address is None:
            raise VMError("THREAD_LOCAL needs the native tier's thread blocks")
        regs[r] = interp.thread_block_address() + offset
    return step


def _bad_access(instr, address) -> GuestError:
    """The error of a LOAD/STORE outside the heap (only an UNSAFE version can make one)."""
    return GuestError(f"Bad memory access: {instr.op} of {byte_width(instr.arg('type'))} "
                      f"byte(s) at address {address:#x}, outside the heap.")


def _copy_to(params, args, tpc, counts, hot_at=None):
    """A jump that binds block parameters (reading all arguments before writing any)."""
    if tpc in counts:
        return _counted_jump(params, args, tpc, counts, hot_at)
    if not params:
        return lambda regs: tpc
    if len(params) == 1:
        p0, a0 = params[0], args[0]

        def jump1(regs):
            regs[p0] = regs[a0]
            return tpc
        return jump1

    def jump(regs):
        vals = [regs[a] for a in args]
        for s, v in zip(params, vals):
            regs[s] = v
        return tpc
    return jump


def _counted_jump(params, args, tpc, counts, hot_at):
    """A jump into a loop header: counts the iteration, and reports the loop hot when the
    count reaches `hot_at[tpc]` (the loop threshold, or a later count after a re-arm)."""
    hot = (HOT_LOOP, tpc)

    def jump(regs):
        vals = [regs[a] for a in args]
        for s, v in zip(params, vals):
            regs[s] = v
        n = counts[tpc] = counts[tpc] + 1
        if n == hot_at[tpc]:
            return hot
        return tpc
    return jump


def _branch(code, instr, pc):
    return code.jump(instr.arg("dest"))


def _branch2(code, instr, pc):
    c = code.slot(instr.arg("cond"), None)
    on_true = code.jump(instr.arg("iftrue"))
    on_false = code.jump(instr.arg("iffalse"))

    def step(regs):
        return on_true(regs) if regs[c] else on_false(regs)
    return step


def _switch(code, instr, pc):
    ty = instr.arg("type")
    v = code.slot(instr.arg("value"), ty)
    default = code.jump(instr.arg("default"))
    mask = (1 << ty.bits) - 1 if isinstance(ty, IntType) else None
    cases = {(k & mask if mask else k): code.jump(d)
             for k, d in instr.arg("cases")}

    def step(regs):
        return cases.get(regs[v], default)(regs)
    return step


def _ret(code, instr, pc):
    results = code.func.sig.results
    slots = code.arg_slots(instr, "values", results)
    if not slots:
        action = (RET, None)
        return lambda regs: action
    s = slots[0]
    return lambda regs: (RET, regs[s])


def _call(code, instr, pc):
    sig = instr.arg("sig")
    callee = code.slot(instr.arg("callee"), None)
    args = code.arg_slots(instr, "args", sig.params)

    def step(regs):
        return (CALL, regs[callee], [regs[a] for a in args])
    return step


def _ccall(code, instr, pc):
    name = instr.arg("callee")
    extern = code.interp.module.externs[name]
    helper = code.interp.helper(name)
    args = code.arg_slots(instr, "args", extern.sig.params)
    r = code.result_slot(instr)
    if r is None:
        if len(args) == 1:
            a0 = args[0]
            return lambda regs: helper(regs[a0])

        def step_void(regs):
            helper(*[regs[a] for a in args])
        return step_void
    if len(args) == 1:
        a0 = args[0]

        def step1(regs):
            regs[r] = helper(regs[a0])
        return step1
    if len(args) == 2:
        a0, a1 = args

        def step2(regs):
            regs[r] = helper(regs[a0], regs[a1])
        return step2

    def step(regs):
        regs[r] = helper(*[regs[a] for a in args])
    return step


def _trap(code, instr, pc):
    state = instr.state()
    if state is not None and state.parent is not None:
        # A trap inlined from another function stops as the frames it was inlined from:
        # they replace this one (the innermost at its TRAP), which then traps.
        action = (DEOPT, INLINED_TRAP, compile_state(code, state))
        return lambda regs: action
    code.keepalive_slots(pc)
    action = (TRAP, pc)
    return lambda regs: action


def _watchpoint(code, instr, pc):
    code.keepalive_slots(pc)
    disabled = code.jump(instr.arg("disabled"))
    enabled_ids = code.interp.enabled_watchpoints
    wpid = instr.arg("id")
    action = (TRAP, pc)

    def step(regs):
        return action if wpid in enabled_ids else disabled(regs)
    return step


def _safepoint(code, instr, pc):
    poll = code.interp.poll
    action = (SAFEPOINT, pc)

    def step(regs):
        if poll[0]:
            return action
    return step


def _breakpoint(code, instr, pc):
    armed, stepping = code.interp.breakpoints_armed, code.interp.stepping
    bpid = instr.arg("id")
    action = (BREAK, pc, bpid)

    def step(regs):
        if bpid in armed or stepping[0]:
            return action
    return step


def compile_state(code, state: FrameState):
    """Turn a frame state into (func, version, block, index, [(name, slot)], parent), in a
    loop: a chain of parents may be thousands deep."""
    if state is None:
        return None
    frames = []
    for frame in state.chain():
        target = code.interp.module.version(frame.func, frame.version)
        target_types = value_types(code.interp.module, target).types
        frames.append((frame.func, frame.version, frame.block, frame.index,
                       tuple((name, code.slot(op, target_types.get(name)))
                             for name, op in frame.values)))
    out = None
    for frame in reversed(frames):
        out = (*frame, out)
    return out


def _guard(code, instr, pc):
    c = code.slot(instr.arg("cond"), None)
    action = (DEOPT, instr.arg("reason"), compile_state(code, instr.arg("state")))

    def step(regs):
        if not regs[c]:
            return action
    return step


def _deopt(code, instr, pc):
    action = (DEOPT, instr.arg("reason"), compile_state(code, instr.arg("state")))
    return lambda regs: action


def _profile(code, instr, pc):
    v = code.slot(instr.arg("value"), None)
    counts = code.profiles.setdefault(instr.arg("site"), {})
    classify = code.interp.classify

    def step(regs):
        key = classify(regs[v])
        counts[key] = counts.get(key, 0) + 1
    return step


def _unreachable(code, instr, pc):
    label, index = code.locations[pc]
    where = (f"@{code.version.func} VERSION %{code.version.name}, block %{label}, "
             f"instruction {index}")

    def step(regs):
        raise VMError(f"UNREACHABLE executed in {where}")
    return step


HANDLERS.update({
    "SELECT": _select,
    "LOAD": _load,
    "STORE": _store,
    "THREAD_LOCAL": _thread_local,
    "BRANCH": _branch,
    "BRANCH2": _branch2,
    "SWITCH": _switch,
    "RET": _ret,
    "CALL": _call,
    "PATCHPOINT": _call,
    "CCALL": _ccall,
    "TRAP": _trap,
    "WATCHPOINT": _watchpoint,
    "SAFEPOINT": _safepoint,
    "BREAKPOINT": _breakpoint,
    "GUARD": _guard,
    "DEOPT": _deopt,
    "PROFILE": _profile,
    "UNREACHABLE": _unreachable,
})
