"""IR function versions to LLVM IR text, with stack maps at every deopt-capable site.

One version becomes one LLVM function `i64|double|void NAME(ptr thread, i64 depth,
params...)` with frame pointers kept and the `statepoint-example` GC strategy (`depth`: the
guest frames under this one, every tier's, checked against Config.max_frames in the
prologue).  How each IR construct maps:
- values: int<n> -> iN, double -> double, tagref64/ref/ptr -> i64, funcref -> i64 (the
  function's id: its entry cell is `cells + 8*id`, zero until it has native code);
- block parameters -> phi nodes, every branch edge through an edge block of its own;
- calls of functions and runtime helpers -> `gc.statepoint` calls whose "deopt" bundle holds
  the flattened frame state (plus any other traced value live across the call, for the
  GC): LLVM spills them all to stack slots a frame walk can read at any depth;
- GUARD failures, DEOPT, enabled WATCHPOINTs, native TRAPs and deopt-stress exits -> the
  same statepoint calls of the entry stub, with the frame state as their "deopt" bundle;
  the exit returns whatever the interpreter computes — deoptimization is a tail call into
  the interpreter (see `Lowering.deopt_exit` for why not a patchpoint).  A TRAP or an
  enabled WATCHPOINT resumes the interpreter at itself, in this version, so the interpreter
  runs it exactly as it would have; native code never goes on after one (the rest of its
  block, and an enabled WATCHPOINT's target, are not lowered);
- after every call the thread's status word is checked: non-zero means a guest error is
  unwinding, and the frame returns at once.

Every site gets a stack-map id; `Lowered.sites[id]` says what the runtime needs there.
"""
from dataclasses import dataclass, field, replace

from ..interp.semantics import signed
from ..ir import tagref
from ..ir.analysis import dominators_in_order, live_before_each, liveness, value_types
from ..ir.nodes import FrameState, Imm, Var
from ..ir.types import TAGREF64, DoubleType, IntType, RefType, TagRef64Type, VoidType, is_traced
from .sidetable import FrameDesc
from .stub import STUB_SYMBOL
from .threadblock import DEOPT_ALL, OFFSET, REQUEST, STATUS_ERROR, STATUS_MASK, STATUS_TRAMPLED
from .trample import REGION_BYTES as TRAMPLE_BYTES
from .trample import TRAMPLE_ID_BASE

MAX_RECORD_LOCATIONS = 0xFFFF
"""A stack-map record counts its locations in 16 bits (format v3): a site with more values
is refused here, before LLVM would encode a wrong count."""
STATEPOINT_LEADING_LOCATIONS = 3   # calling convention, flags, number of deopt values
COLD_BLOCKS = ("overflow", "too_deep", "status", "unwind", "lazy_check", "lazy_deopt",
               "guard_fail", "stress", "poll_slow", "fp_nan")
"""Label prefixes of the blocks the lowering emits for exits and slow paths (the code
size that decides the codegen level leaves them out: llvm_setup.codegen_level)."""
DEPTH = "%depth.0"   # hidden argument: the guest frames (of every tier) under this one
DEPTH_HERE = "%depth.1"   # this frame's own depth (DEPTH + 1): what a call passes on


def inline_depth(version) -> int:
    """How many inlined frames deep this version's code goes: the longest chain of frame
    states it carries, less its own frame (inlined code that carries no frame state at
    all — no call, guard or deopt — is not seen)."""
    deepest = 1
    for block in version.blocks:
        for instr in block.instrs:
            state, n = instr.state(), 0
            while state is not None:
                n, state = n + 1, state.parent
            deepest = max(deepest, n)
    return deepest - 1


@dataclass(frozen=True, slots=True)
class SiteDesc:
    """What a stack-map record means: its kind, frames, and the extra values recorded."""

    kind: str               # guard | deopt | trap | stress | call | ccall | safepoint | entry
    reason: str
    frames: tuple           # FrameDesc, innermost first
    gc_count: int = 0       # extra GC-only values (tagref64 words) after the state's values
    result_type: object = None   # deopt after a call: type of the pending result, last value
    replay: bool = False    # a deopt exit whose state is an earlier guard's (opt/states.py)


@dataclass(slots=True)
class Lowered:
    """The LLVM IR text of one version and the meaning of each of its stack-map ids."""

    symbol: str
    text: str
    sites: list = field(default_factory=list)
    inline_caches: list = field(default_factory=list)  # (kind, helper, helper index, line)


def llvm_type(ty) -> str:
    """The LLVM type that holds values of an IR type."""
    if isinstance(ty, IntType):
        return f"i{ty.bits}"
    if isinstance(ty, DoubleType):
        return "double"
    if isinstance(ty, VoidType):
        return "void"
    return "i64"


def llvm_literal(value, ty) -> str:
    """An LLVM constant for a Python value of an IR type."""
    if isinstance(ty, DoubleType):
        return f"0x{tagref.double_bits(float(value)):016X}"
    if isinstance(ty, IntType):
        if ty.bits == 1:
            return "true" if value & 1 else "false"
        return str(signed(value & ((1 << ty.bits) - 1), ty.bits))
    return str(signed(value & (2**64 - 1), 64))


# Instructions native code leaves at for good (the interpreter runs the rest of the
# function): what follows them in their block is never lowered.
LEAVES_NATIVE_CODE = frozenset({"TRAP"})


def native_successors(block) -> list:
    """Labels native code may branch to from a block: none past a TRAP, and an enabled
    WATCHPOINT's target is reached in the interpreter only."""
    for instr in block.instrs:
        if instr.op in LEAVES_NATIVE_CODE:
            return []
    last = block.instrs[-1] if block.instrs else None
    if last is not None and last.op == "WATCHPOINT":
        return [last.arg("disabled").label]
    return [d.label for d in last.dests()] if last is not None else []


def natively_reachable(version, by_label) -> set:
    """Labels of the blocks native code of a version can reach from its entry: the blocks
    it lowers (the others have no LLVM predecessor to give their phis incoming values)."""
    entry = version.blocks[0].label
    seen, work = {entry}, [entry]
    while work:
        for label in native_successors(by_label[work.pop()]):
            if label not in seen:
                seen.add(label)
                work.append(label)
    return seen


class LinkInfo:
    """Addresses and numbering the lowering embeds (supplied by the engine)."""

    def __init__(self, *, global_addresses, function_id, helper_index, cells_base,
                 watchpoint_address, symbol_value, breakpoint_address=None, deopt_stress=0,
                 version_types=None, max_frames=10_000, resumes_in=None, loop_polls=True):
        self.global_addresses = global_addresses
        self.function_id = function_id          # fn(name) -> int
        self.helper_index = helper_index        # fn(extern name) -> int
        self.cells_base = cells_base
        self.watchpoint_address = watchpoint_address  # fn(id) -> address of its flag word
        self.symbol_value = symbol_value        # fn(name) -> constant value of a .const
        self.breakpoint_address = breakpoint_address  # fn(id) -> its armed flag's address
        self.deopt_stress = deopt_stress
        self.loop_polls = loop_polls            # False: SAFEPOINT polls compiled out
        self.max_frames = max_frames            # guest frames before "Stack overflow."
        self.version_types = version_types      # fn(version) -> SSA types known, or None
        # For the unchanged copy of an OSR entry clone: (the version it was cloned from,
        # block -> {variable: the clone's variable holding it}), so that its own states
        # resume ordinary frames of that version, as the clone's given states do.
        self.resumes_in = resumes_in


class Lowering:
    """Builds the LLVM text of one version."""

    def __init__(self, module, version, link: LinkInfo, symbol: str, table: dict):
        self.table = table
        self.pending_edges = []
        self.alias = {}           # SSA name -> LLVM value (results bound without a copy)
        self._types = {}
        self.declarations = set()
        self.module = module
        self.version = version
        self.link = link
        self.symbol = symbol
        self.func = module.functions[version.func]
        self.ctx = value_types(module, version)
        self.live_in = liveness(version)
        self._live_before = {}    # (version id, block label) -> live names before each
        self.blocks = {b.label: b for b in version.blocks}
        self._resume_live_in = None
        self.body = []
        self.counter = 0
        self.sites = []
        self.inline_caches = []
        self.trample_regions = 0    # status reads through a trample region so far
        self.edges = {}      # target label -> [(edge label, [arg values])]
        self.buffer_words = 1
        self.result_type = self.func.sig.results[0] if self.func.sig.results else None

    # --- small helpers ---------------------------------------------------------------

    def tmp(self, hint="t") -> str:
        self.counter += 1
        return f"%{hint}.{self.counter}"

    def label(self, hint="l") -> str:
        self.counter += 1
        return f"{hint}.{self.counter}"

    def emit(self, line: str) -> None:
        self.body.append("  " + line)

    def start_block(self, label: str) -> None:
        self.body.append(f"{label}:")
        self.current_label = label

    def type_of(self, operand, expected=None):
        return self.ctx.type_of(operand, expected)

    def value(self, operand, ty) -> str:
        """The LLVM operand for an IR operand of type `ty`."""
        if isinstance(operand, Var):
            return self.alias.get(operand.name) or f"%v.{operand.name}"
        if isinstance(operand, Imm):
            v = operand.value
            if isinstance(ty, TagRef64Type) and isinstance(v, float):
                v = tagref.from_fp(v)
            return llvm_literal(v, ty)
        name = operand.name
        if name in self.module.consts:
            const = self.module.consts[name]
            return llvm_literal(self.link.symbol_value(name), const.type)
        if name in self.module.globals:
            return str(self.link.global_addresses[name])
        return str(self.link.function_id(name))

    def typed(self, operand, ty) -> str:
        return f"{llvm_type(ty)} {self.value(operand, ty)}"

    def zero(self) -> str:
        """`ret` of a dummy value (when unwinding after an error)."""
        if self.result_type is None:
            return "ret void"
        return f"ret {llvm_type(self.result_type)} {llvm_literal(0, self.result_type)}"

    def thread_word(self, name: str) -> str:
        """A pointer to a thread-block field."""
        p = self.tmp("tb")
        self.emit(f"{p} = getelementptr i8, ptr %thread, i64 {OFFSET[name]}")
        return p

    def as_i64(self, val: str, ty) -> str:
        """A value widened or reinterpreted to i64 (for argument buffers and stack maps)."""
        if isinstance(ty, DoubleType):
            t = self.tmp()
            self.emit(f"{t} = bitcast double {val} to i64")
            return t
        if isinstance(ty, IntType) and ty.bits < 64:
            t = self.tmp()
            self.emit(f"{t} = zext i{ty.bits} {val} to i64")
            return t
        return val

    def from_i64(self, val: str, ty) -> str:
        """An i64 (from the runtime) converted to the IR type's LLVM value."""
        if isinstance(ty, DoubleType):
            t = self.tmp()
            self.emit(f"{t} = bitcast i64 {val} to double")
            return t
        if isinstance(ty, IntType) and ty.bits < 64:
            t = self.tmp()
            self.emit(f"{t} = trunc i64 {val} to i{ty.bits}")
            return t
        return val

    # --- frame states ----------------------------------------------------------------

    def live_at(self, block: str, index: int, version=None, live_in=None) -> set:
        """SSA names live just before instruction `index` of a block of this version (or
        of `version`, whose liveness is `live_in`): one backward walk per block, computed
        once (asking `analysis.live_at` at every site of a long block walked it again for
        each: quadratic in the function's size)."""
        version = version or self.version
        key = (id(version), block)
        live = self._live_before.get(key)
        if live is None:
            live = self._live_before[key] = live_before_each(
                version, block, self.live_in if live_in is None else live_in)
        return live[index]

    def identity_state(self, block, index, waiting_instr=None) -> FrameState:
        """This version's own state at a point (resume before `index`, or waiting there);
        for an OSR clone's copy, the state of the version it copies."""
        version, live_in, held = self.version, self.live_in, {}
        if self.link.resumes_in is not None:
            version, holders = self.link.resumes_in
            live_in, held = self.resume_liveness(version), holders.get(block, {})
        if waiting_instr is not None:
            live = self.live_at(block, index + 1, version, live_in) - set(
                waiting_instr.results)
        else:
            live = self.live_at(block, index, version, live_in)
        return FrameState(version.func, version.name, block, index,
                          tuple((n, Var(held.get(n, n))) for n in sorted(live)))

    def resume_liveness(self, version) -> dict:
        """Liveness of the version identity states resume in (computed once)."""
        if self._resume_live_in is None:
            self._resume_live_in = liveness(version)
        return self._resume_live_in

    def types_of(self, version) -> dict:
        """SSA value types of a version a frame state names (the link's, when it keeps
        them: baselines are named by every compilation; else computed once here)."""
        types = self._types.get(id(version))
        if types is None:
            known = self.link.version_types
            types = known(version) if known is not None else None
            if types is None:
                types = value_types(self.module, version).types
            self._types[id(version)] = types
        return types

    def flatten(self, state: FrameState, innermost_waiting: bool):
        """(frames, recorded values) of a state chain, innermost first."""
        frames, values = [], []
        waiting = innermost_waiting
        while state is not None:
            target = self.module.version(state.func, state.version)
            types = self.types_of(target)
            vars_ = []
            for name, operand in state.values:
                ty = types[name]
                vars_.append((name, ty))
                values.append((operand, ty))
            frames.append(FrameDesc(state.func, state.version, state.block, state.index,
                                    waiting, tuple(vars_)))
            waiting = True
            state = state.parent
        return tuple(frames), values

    def recorded(self, values) -> list:
        """LLVM `type value` strings for stack-map live values."""
        out = []
        for operand, ty in values:
            val = operand if isinstance(operand, str) else self.value(operand, ty)
            if isinstance(ty, DoubleType):
                out.append(f"double {val}")
            else:
                out.append(f"i64 {self.as_i64(val, ty)}")
        return out

    def gc_extras(self, block, index, instr, state_values):
        """Traced values live across a call, or passed to it, that the frame state does not
        already hold, as tagref64 words (a raw `ref` is tagged, so every GC root reads the
        same way).  Arguments count: a runtime helper may allocate before it is done with
        them, and the argument buffer is no root."""
        live = self.live_at(block, index + 1) - set(instr.results)
        live |= {o.name for o in instr.value_operands() if isinstance(o, Var)}
        held = {o.name for o, _ in state_values if isinstance(o, Var)}
        extras = []
        for name in sorted(live - held):
            ty = self.ctx.types.get(name)
            if ty is None or not is_traced(ty):
                continue
            if isinstance(ty, RefType):
                tagged = self.tmp()
                self.emit(f"{tagged} = or i64 {self.value(Var(name), ty)}, "
                          f"{llvm_literal(tagref.REF_TAG, None)}")
                extras.append((tagged, TAGREF64))
            else:
                extras.append((Var(name), ty))
        return extras

    def with_keepalives(self, state: FrameState, instr) -> FrameState:
        """`state` whose innermost frame also holds the values `instr` keeps alive, as
        the variables the matching instruction there keeps alive (those not given yet):
        a trap handler reads a waiting frame's keep-alives even when they are not live
        after it."""
        keep = instr.arg("keepalive")
        if not keep:
            return state
        there = self.module.version(state.func, state.version).block(
            state.block).instrs[state.index]
        given = {name for name, _ in state.values}
        extra = []
        for target, operand in zip(there.arg("keepalive"), keep):
            if isinstance(target, Var) and target.name not in given:
                given.add(target.name)
                extra.append((target.name, operand))
        if not extra:
            return state
        return replace(state, values=state.values + tuple(extra))

    def new_site(self, desc: SiteDesc) -> int:
        """File a stack-map site; refuse one whose record LLVM could not encode."""
        nvalues = sum(len(frame.vars) for frame in desc.frames) + desc.gc_count + 1
        if nvalues + STATEPOINT_LEADING_LOCATIONS > MAX_RECORD_LOCATIONS:
            raise ValueError(f"a site with {nvalues} values: a stack-map record holds at "
                             f"most {MAX_RECORD_LOCATIONS} locations")
        self.sites.append(desc)
        return len(self.sites) - 1

    # --- runtime entries -------------------------------------------------------------

    def statepoint_stub(self, request: str, values, buf="null", site_id=None) -> str:
        """Call the entry stub through a statepoint; returns the i64 result."""
        tok, res = self.tmp("tok"), self.tmp("r")
        deopt = ", ".join(values)
        self.emit(f"{tok} = call token (i64, i32, ptr, i32, i32, ...) "
                  f"@llvm.experimental.gc.statepoint.p0(i64 {site_id}, i32 0, "
                  f"ptr elementtype(i64 (ptr, i64, ptr)) @{STUB_SYMBOL}, i32 3, i32 0, "
                  f"ptr %thread, i64 {request}, ptr {buf}, i32 0, i32 0) "
                  f"[ \"deopt\"({deopt}) ]")
        self.emit(f"{res} = call i64 @llvm.experimental.gc.result.i64(token {tok})")
        return res

    def deopt_exit(self, kind, reason, state, waiting=False, pending=None, replay=False):
        """A statepoint call of the stub that deoptimizes here; ends the LLVM block with ret.

        A statepoint, not a patchpoint: LLVM spills a statepoint's "deopt" values to stack
        slots before register allocation, so a frame state of any size compiles, while a
        patchpoint demands all its live values in registers at once (the -O0 allocator then
        fails past ~10 of them, the -O1 one when ~30 are rematerializable; LLVM reports that
        by exiting the process — see NATIVE-FACTS.md).  Exits are cold: the spills cost
        the hot path nothing."""
        frames, values = self.flatten(state, waiting)
        rec = self.recorded(values)
        result_type = None
        if pending is not None:
            val, ty = pending
            rec += self.recorded([(val, ty)])
            result_type = ty
        site = self.new_site(SiteDesc(kind, reason, frames, 0, result_type, replay))
        under = self.tmp("under")     # the frames under the rebuilt ones, in the buffer's place
        self.emit(f"{under} = inttoptr i64 {DEPTH} to ptr")
        self.ret_i64(self.statepoint_stub(REQUEST["deopt"], rec, buf=under, site_id=site))

    def ret_i64(self, r: str) -> None:
        """Return an i64 from the runtime as this function's result."""
        if self.result_type is None:
            self.emit("ret void")
        else:
            self.emit(f"ret {llvm_type(self.result_type)} {self.from_i64(r, self.result_type)}")

    def check_status(self, lazy=None) -> None:
        """After a call: leave if a guest error is unwinding; deoptimize if asked to.

        `lazy` is (state, waiting, pending) for the exit taken when this very frame must
        leave lazily: the runtime marked it by its frame address (deoptHere), or this
        code was invalidated — its status reads are trampled (trample.py), so the status
        read here has STATUS_TRAMPLED set.  The runtime keeps the status word set while
        a marked frame remains.
        """
        s = self.status_read() if lazy is not None else self.load_status()
        c = self.tmp()
        self.emit(f"{c} = icmp ne i64 {s}, 0")
        slow, cont = self.label("status"), self.label("cont")
        self.emit(f"br i1 {c}, label %{slow}, label %{cont}, !prof !0")
        self.start_block(slow)
        unwind, check = self.label("unwind"), self.label("lazy_check")
        self.emit(f"br i1 {self.is_error(s)}, label %{unwind}, label %{check}")
        self.start_block(unwind)
        self.emit(self.zero())
        self.start_block(check)
        if lazy is None:
            self.emit(f"br label %{cont}")
        else:
            t, mine, hit = self.tmp(), self.tmp(), self.tmp()
            self.emit(f"{t} = load i64, ptr {self.thread_word('deopt_target')}")
            every, marked = self.tmp(), self.tmp()
            self.emit(f"{mine} = icmp eq i64 {t}, %frame_address")
            self.emit(f"{every} = icmp eq i64 {t}, {DEOPT_ALL}")
            self.emit(f"{marked} = or i1 {mine}, {every}")
            self.emit(f"{hit} = or i1 {marked}, {self.is_trampled(s)}")
            go = self.label("lazy_deopt")
            self.emit(f"br i1 {hit}, label %{go}, label %{cont}")
            self.start_block(go)
            state, waiting, pending = lazy
            self.deopt_exit("lazy", "lazy deopt", state, waiting=waiting, pending=pending)
        self.start_block(cont)

    def load_status(self) -> str:
        s = self.tmp()
        self.emit(f"{s} = load i64, ptr {self.thread_word('status')}")
        return s

    def status_read(self) -> str:
        """The thread's status word, read through a trample region (trample.py): the
        runtime rewrites it to set STATUS_TRAMPLED once this unit is invalid."""
        self.declare("declare i64 @llvm.experimental.patchpoint.i64(i64, i32, ptr, i32, ...)")
        s = self.tmp("status")
        self.emit(f"{s} = call anyregcc i64 (i64, i32, ptr, i32, ...) "
                  f"@llvm.experimental.patchpoint.i64(i64 {TRAMPLE_ID_BASE + self.trample_regions}, "
                  f"i32 {TRAMPLE_BYTES}, ptr null, i32 1, ptr %thread)")
        self.trample_regions += 1
        return s

    def is_error(self, status: str) -> str:
        low, err = self.tmp(), self.tmp()
        self.emit(f"{low} = and i64 {status}, {STATUS_MASK}")
        self.emit(f"{err} = icmp eq i64 {low}, {STATUS_ERROR}")
        return err

    def is_trampled(self, status: str) -> str:
        bit, on = self.tmp(), self.tmp()
        self.emit(f"{bit} = and i64 {status}, {STATUS_TRAMPLED}")
        self.emit(f"{on} = icmp ne i64 {bit}, 0")
        return on

    def stress_check(self, make_exit) -> None:
        """Deopt-stress: count this site down and deoptimize when the count reaches zero."""
        if not self.link.deopt_stress:
            return
        p = self.thread_word("stress_countdown")
        c, c1, z = self.tmp(), self.tmp(), self.tmp()
        self.emit(f"{c} = load i64, ptr {p}")
        self.emit(f"{c1} = sub i64 {c}, 1")
        self.emit(f"store i64 {c1}, ptr {p}")
        self.emit(f"{z} = icmp sle i64 {c1}, 0")
        go, cont = self.label("stress"), self.label("cont")
        self.emit(f"br i1 {z}, label %{go}, label %{cont}")
        self.start_block(go)
        make_exit()
        self.start_block(cont)

    # --- the function ----------------------------------------------------------------

    def run(self) -> Lowered:
        entry = self.version.blocks[0]
        params = ", ".join(f"{llvm_type(t)} %arg.{n}" for n, t in entry.params)
        ret = llvm_type(self.result_type) if self.result_type is not None else "void"
        # Reverse postorder: a value's definition is lowered before its uses in other
        # blocks (a call's result gets its LLVM name while its block is lowered), whatever
        # order passes left the blocks in.
        order, _ = dominators_in_order(self.version)
        by_label = {b.label: b for b in self.version.blocks}
        self.reachable = natively_reachable(self.version, by_label)
        for label in order:
            self.lower_block(by_label[label])
        head = [f"define {ret} @{self.symbol}(ptr %thread, i64 {DEPTH}"
                f"{', ' if params else ''}{params}) "
                f"#0 gc \"statepoint-example\" {{", "prologue:"]
        head.append(f"  %argbuf = alloca [{self.buffer_words} x i64]")
        head += self.prologue_lines(entry)
        phis = self.phi_lines()
        text = "\n".join(head + self.assemble(phis) + ["}"])
        return Lowered(self.symbol, text, self.sites, self.inline_caches)

    def prologue_lines(self, entry) -> list:
        """Stack-limit and guest-depth checks, then the first block.

        The stack-limit check is also the function-entry poll: an interrupt sets the limit
        out of reach (engine.request_interrupt), so recursion with no loop sees it too, at
        no cost.  The hidden depth argument counts guest frames (every tier's): this frame
        stands for one more, and for up to `inline_depth` more while inlined code runs, so
        it may start only if all of them fit under Config.max_frames — else it leaves at
        once: `Stack overflow.` when it inlines nothing, else a deopt at its entry, so that
        the interpreter overflows at the very frame it would have alone."""
        saved, self.body = self.body, []
        fa, fai = self.tmp(), "%frame_address"
        self.emit(f"{fa} = call ptr @llvm.frameaddress.p0(i32 0)")
        self.emit(f"{fai} = ptrtoint ptr {fa} to i64")
        p = self.thread_word("stack_limit")
        lim, low = self.tmp(), self.tmp()
        self.emit(f"{lim} = load i64, ptr {p}")
        self.emit(f"{low} = icmp ult i64 {fai}, {lim}")
        poll, ok = self.label("entry_poll"), self.label("start")
        self.emit(f"br i1 {low}, label %{poll}, label %{ok}, !prof !0")
        self.start_block(poll)
        self.entry_poll(entry, ok)
        self.start_block(ok)
        inlined = inline_depth(self.version)
        self.emit(f"{DEPTH_HERE} = add i64 {DEPTH}, 1")
        top, deep = DEPTH_HERE, self.tmp()
        if inlined:
            top = self.tmp()
            self.emit(f"{top} = add i64 {DEPTH}, {1 + inlined}")
        self.emit(f"{deep} = icmp ugt i64 {top}, {self.link.max_frames}")
        fits, too_deep = self.label("fits"), self.label("too_deep")
        self.emit(f"br i1 {deep}, label %{too_deep}, label %{fits}")
        self.start_block(too_deep)
        if inlined:
            self.entry_deopt(entry)
        else:
            site = self.new_site(SiteDesc("entry", "stack overflow", ()))
            self.statepoint_stub(REQUEST["stack_overflow"], [], site_id=site)
            self.emit(self.zero())
        self.start_block(fits)
        self.edges.setdefault(entry.label, []).append(
            (fits, [f"%arg.{n}" for n, _ in entry.params]))
        self.emit(f"br label %b.{entry.label}")
        lines, self.body = self.body, saved
        return lines

    def entry_poll(self, entry, start: str) -> None:
        """The function-entry poll (the stack limit crossed): the runtime serves a
        safepoint request, or raises `Stack overflow.` when the stack is really that deep.
        The traced arguments are the site's GC values: a collection while this thread is
        stopped here must see them."""
        args = [(f"%arg.{name}", ty) for name, ty in entry.params if is_traced(ty)]
        values = []
        for value, ty in args:
            if isinstance(ty, RefType):
                tagged = self.tmp()
                self.emit(f"{tagged} = or i64 {value}, {llvm_literal(tagref.REF_TAG, None)}")
                values.append((tagged, TAGREF64))
            else:
                values.append((value, ty))
        site = self.new_site(SiteDesc("entry", "entry poll", (), gc_count=len(values)))
        self.statepoint_stub(REQUEST["entry_poll"], self.recorded(values), site_id=site)
        s = self.status_read()
        unwind, checked = self.label("unwind"), self.label("entry_checked")
        self.emit(f"br i1 {self.is_error(s)}, label %{unwind}, label %{checked}")
        self.start_block(unwind)
        self.emit(self.zero())
        self.start_block(checked)
        resumed = self.resumed_version()
        osr_clone = resumed is None and self.resumes_elsewhere()
        if resumed is None and not osr_clone:   # no state to leave with: nothing assumed
            self.emit(f"br label %{start}")
            return
        trampled = self.label("entry_trampled")
        self.emit(f"br i1 {self.is_trampled(s)}, label %{trampled}, label %{start}")
        self.start_block(trampled)
        if osr_clone:
            self.declined_entry()
        else:
            self.entry_deopt(entry)

    def resumes_elsewhere(self) -> bool:
        """Whether this version's frame states resume another function: an OSR entry
        clone (`F.osr.HEADER`), entered only from the interpreter frame it replaces."""
        return any(instr.state() is not None for block in self.version.blocks
                   for instr in block.instrs)

    def declined_entry(self) -> None:
        """An OSR entry clone invalidated while the thread waited at its entry poll: it
        does not start, and the interpreter frame that entered it goes on (the engine
        hands it back: a deopt site with no frames)."""
        site = self.new_site(SiteDesc("entry", "osr entry declined", ()))
        under = self.tmp("under")
        self.emit(f"{under} = inttoptr i64 {DEPTH} to ptr")
        self.ret_i64(self.statepoint_stub(REQUEST["deopt"], [], buf=under, site_id=site))

    def entry_deopt(self, entry) -> None:
        """Deoptimize at the entry, into the version this one's frame states resume in
        (it inlines nothing: the interpreter pushes, and counts, every frame), with the
        arguments as its entry block's values; `Stack overflow.` if there is none."""
        base = self.resumed_version()
        if base is None:
            site = self.new_site(SiteDesc("entry", "stack overflow", ()))
            self.statepoint_stub(REQUEST["stack_overflow"], [], site_id=site)
            self.emit(self.zero())
            return
        base_entry = base.blocks[0]
        values = tuple((name, Var(name)) for name, _ in base_entry.params)
        params = {name: f"%arg.{own}"
                  for (name, _), (own, _) in zip(base_entry.params, entry.params)}
        saved, self.alias = self.alias, {**self.alias, **params}
        try:
            self.deopt_exit("entry", "stack depth",
                            FrameState(base.func, base.name, base_entry.label, 0, values))
        finally:
            self.alias = saved

    def resumed_version(self):
        """The version of this function that deopts of this version resume in (the
        outermost frame of its frame states), or None (no state names this function)."""
        for block in self.version.blocks:
            for instr in block.instrs:
                state = instr.state()
                while state is not None and state.parent is not None:
                    state = state.parent
                if state is not None and state.func == self.version.func:
                    return self.module.version(state.func, state.version)
        return None

    def depth_at_call(self, frames: int) -> str:
        """The depth a call passes on: the frames under this one plus the `frames` virtual
        frames of its site (more than one in inlined code)."""
        if frames == 1:
            return DEPTH_HERE
        value = self.tmp()
        self.emit(f"{value} = add i64 {DEPTH}, {frames}")
        return value

    def phi_lines(self) -> dict:
        """Phi nodes of every block, from the edges recorded while lowering."""
        phis = {}
        for block in self.version.blocks:
            incoming = self.edges.get(block.label, [])
            lines = []
            for i, (name, ty) in enumerate(block.params):
                if not incoming:
                    continue
                pairs = ", ".join(f"[ {args[i]}, %{edge} ]" for edge, args in incoming)
                lines.append(f"  %v.{name} = phi {llvm_type(ty)} {pairs}")
            phis[block.label] = lines
        return phis

    def assemble(self, phis) -> list:
        """Insert each block's phis right after its label."""
        out = []
        for line in self.body:
            out.append(line)
            if line.startswith("b.") and line.endswith(":"):
                label = line[2:-1]
                out.extend(phis.get(label, []))
        return out

    def lower_block(self, block) -> None:
        if block.label not in self.reachable:
            return
        self.start_block(f"b.{block.label}")
        for index, instr in enumerate(block.instrs):
            self.table[instr.op](self, block.label, index, instr)
            if instr.op in LEAVES_NATIVE_CODE:
                break
        self.flush_edges()

    def edge(self, dest) -> str:
        """The label to branch to for `dest`: its block's own when it takes no arguments,
        else a new edge block carrying them (the phis' incoming block)."""
        target = self.blocks[dest.label]
        if not target.params:
            return f"b.{dest.label}"
        label = self.label("edge")
        args = [self.value(a, t) for a, (_, t) in zip(dest.args, target.params)]
        self.edges.setdefault(dest.label, []).append((label, args))
        self.pending_edges.append(f"{label}:\n  br label %b.{dest.label}")
        return label

    def flush_edges(self) -> None:
        for text in self.pending_edges:
            self.body.extend(text.split("\n"))
        self.pending_edges = []

    def declare(self, line: str) -> None:
        """Add a module-level declaration (intrinsics used by some instructions)."""
        self.declarations.add(line)

    def define(self, instr, text: str) -> None:
        """Emit `%v.result = text`."""
        self.emit(f"%v.{instr.results[0]} = {text}")
