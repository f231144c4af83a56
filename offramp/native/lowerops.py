"""The native lowering of every instruction: one table, `LOWER`, from opcode to function.

Each function appends LLVM IR for one instruction to a `Lowering` (see lower.py for the
conventions).  Semantics follow `ir/ops.py` exactly — the cases LLVM leaves undefined
(division by zero, over-wide shifts, out-of-range float conversions) are defined here the
same way the interpreter defines them; `tests/native` runs the interpreter's semantics
table against this lowering.
"""
from ..ir import tagref
from ..ir.nodes import Var
from ..interp.semantics import DEFAULT_NAN
from ..ir.types import DOUBLE, DoubleType, IntType
from ..ir.inline_caches import IC_KINDS
from .inline_cache import IC_ID_BASE, MISS as IC_MISS, REGION_BYTES
from .lower import LinkInfo, Lowered, Lowering, SiteDesc, llvm_literal, llvm_type
from .stub import STUB_SYMBOL
from .threadblock import PAYLOAD_SHIFT, REQUEST


def _operands(lw, instr, *names):
    """LLVM operands for the named VALUE positions, typed by the table's expectations."""
    out = []
    for name in names:
        spec = instr.opdef.syntax[instr.opdef.position(name)]
        ty = spec.expect(instr, lw.ctx) if spec.expect else None
        out.append(lw.value(instr.arg(name), ty or lw.type_of(instr.arg(name))))
    return out


def _simple(llvm_op):
    """`%r = OP T a, b` for operations LLVM defines on every input."""
    def lower(lw, block, index, instr):
        a, b = _operands(lw, instr, "a", "b")
        lw.define(instr, f"{llvm_op} {llvm_type(instr.arg('type'))} {a}, {b}")
    return lower


def _machine_fp(llvm_op):
    """A double operation with x86's NaN rules (interp/semantics.machine_fp), whatever LLVM
    does with NaNs (it may swap the operands of fadd and fmul, rewrite `x - C` as
    `x + -C` and fold invalid operations to a positive NaN): when the result is a NaN —
    a cold path — it is recomputed from the operands: the first NaN operand, else the
    machine's default NaN."""
    def lower(lw, block, index, instr):
        a, b = _operands(lw, instr, "a", "b")
        op, result = lw.label("fp"), lw.tmp("fp")
        fix, done = lw.label("fp_nan"), lw.label("fp_done")
        lw.emit(f"br label %{op}")
        lw.start_block(op)
        lw.emit(f"{result} = {llvm_op} double {a}, {b}")
        is_nan = lw.tmp()
        lw.emit(f"{is_nan} = fcmp uno double {result}, 0.0")
        lw.emit(f"br i1 {is_nan}, label %{fix}, label %{done}, !prof !0")
        lw.start_block(fix)
        a_nan, b_nan, second, first = (lw.tmp() for _ in range(4))
        lw.emit(f"{a_nan} = fcmp uno double {a}, 0.0")
        lw.emit(f"{b_nan} = fcmp uno double {b}, 0.0")
        lw.emit(f"{second} = select i1 {b_nan}, double {b}, double "
                f"{llvm_literal(DEFAULT_NAN, DOUBLE)}")
        lw.emit(f"{first} = select i1 {a_nan}, double {a}, double {second}")
        lw.emit(f"br label %{done}")
        lw.start_block(done)
        lw.define(instr, f"phi double [ {result}, %{op} ], [ {first}, %{fix} ]")
    return lower


def _compare(pred, kind="icmp"):
    def lower(lw, block, index, instr):
        a, b = _operands(lw, instr, "a", "b")
        lw.define(instr, f"{kind} {pred} {llvm_type(instr.arg('type'))} {a}, {b}")
    return lower


def _division(op):
    """Division and remainder with the zero and overflow cases of ops.py defined."""
    def lower(lw, block, index, instr):
        ty = instr.arg("type")
        t = llvm_type(ty)
        a, b = _operands(lw, instr, "a", "b")
        zero = lw.tmp()
        lw.emit(f"{zero} = icmp eq {t} {b}, 0")
        bad = zero
        if op in ("sdiv", "srem"):
            mn = llvm_literal(1 << (ty.bits - 1), ty)
            amin, bneg, ovf, either = lw.tmp(), lw.tmp(), lw.tmp(), lw.tmp()
            lw.emit(f"{amin} = icmp eq {t} {a}, {mn}")
            lw.emit(f"{bneg} = icmp eq {t} {b}, {llvm_literal(-1, ty)}")
            lw.emit(f"{ovf} = and i1 {amin}, {bneg}")
            lw.emit(f"{either} = or i1 {zero}, {ovf}")
            bad = either
        safe, q = lw.tmp(), lw.tmp()
        lw.emit(f"{safe} = select i1 {bad}, {t} 1, {t} {b}")
        lw.emit(f"{q} = {op} {t} {a}, {safe}")
        if op in ("sdiv", "udiv"):
            if op == "sdiv":
                q2 = lw.tmp()
                lw.emit(f"{q2} = select i1 {ovf}, {t} {mn}, {t} {q}")
                q = q2
            lw.define(instr, f"select i1 {zero}, {t} 0, {t} {q}")
        else:
            if op == "srem":
                q2 = lw.tmp()
                lw.emit(f"{q2} = select i1 {ovf}, {t} 0, {t} {q}")
                q = q2
            lw.define(instr, f"select i1 {zero}, {t} {a}, {t} {q}")
    return lower


def _shift(op):
    def lower(lw, block, index, instr):
        ty = instr.arg("type")
        t = llvm_type(ty)
        a, b = _operands(lw, instr, "a", "b")
        amount = lw.tmp()
        lw.emit(f"{amount} = urem {t} {b}, {ty.bits}")
        lw.define(instr, f"{op} {t} {a}, {amount}")
    return lower


def _fneg(lw, block, index, instr):
    (a,) = _operands(lw, instr, "a")
    lw.define(instr, f"fneg double {a}")


def _conversion(lw, block, index, instr):
    src, dst = instr.arg("types")
    (a,) = _operands(lw, instr, "a")
    s, d = llvm_type(src), llvm_type(dst)
    op = instr.op
    if op == "FPTOSI":
        lw.define(instr, f"call {d} @llvm.fptosi.sat.{d}.f64(double {a})")
        lw.declare(f"declare {d} @llvm.fptosi.sat.{d}.f64(double)")
    elif op == "BITCAST":
        lw.define(instr, f"bitcast {s} {a} to {d}")
    else:
        lw.define(instr, f"{op.lower()} {s} {a} to {d}")


def _select(lw, block, index, instr):
    t = llvm_type(instr.arg("type"))
    c, a, b = _operands(lw, instr, "cond", "a", "b")
    lw.define(instr, f"select i1 {c}, {t} {a}, {t} {b}")


def _masked_compare(mask, expected, pred):
    def lower(lw, block, index, instr):
        (a,) = _operands(lw, instr, "a")
        m = lw.tmp()
        lw.emit(f"{m} = and i64 {a}, {llvm_literal(mask, None)}")
        lw.define(instr, f"icmp {pred} i64 {m}, {llvm_literal(expected, None)}")
    return lower


def _tr64_to_fp(lw, block, index, instr):
    (a,) = _operands(lw, instr, "a")
    lw.define(instr, f"bitcast i64 {a} to double")


def _masking(mask, op="and"):
    def lower(lw, block, index, instr):
        (a,) = _operands(lw, instr, "a")
        lw.define(instr, f"{op} i64 {a}, {llvm_literal(mask, None)}")
    return lower


def _tr64_from_fp(lw, block, index, instr):
    (a,) = _operands(lw, instr, "a")
    isnan, bits, sign, nan = lw.tmp(), lw.tmp(), lw.tmp(), lw.tmp()
    lw.emit(f"{isnan} = fcmp uno double {a}, {a}")
    lw.emit(f"{bits} = bitcast double {a} to i64")
    lw.emit(f"{sign} = and i64 {bits}, {llvm_literal(tagref.SIGN, None)}")
    lw.emit(f"{nan} = or i64 {sign}, {llvm_literal(tagref.CANONICAL_NAN, None)}")
    lw.define(instr, f"select i1 {isnan}, i64 {nan}, i64 {bits}")


def _tr64_from_int(lw, block, index, instr):
    (a,) = _operands(lw, instr, "a")
    m = lw.tmp()
    lw.emit(f"{m} = and i64 {a}, {llvm_literal(tagref.INT_MASK, None)}")
    lw.define(instr, f"or i64 {m}, {llvm_literal(tagref.QNAN, None)}")


def _address(lw, instr) -> str:
    """The pointer base+offset: a constant expression for a constant base (a global's
    cell), no addition for offset 0 (fewer instructions for -O0 codegen to select)."""
    (base,) = _operands(lw, instr, "base")
    offset = instr.arg("offset")
    if base.lstrip("-").isdigit():
        return f"inttoptr (i64 {llvm_literal(int(base) + offset, None)} to ptr)"
    if offset:
        addr = lw.tmp()
        lw.emit(f"{addr} = add i64 {base}, {offset}")
        base = addr
    ptr = lw.tmp()
    lw.emit(f"{ptr} = inttoptr i64 {base} to ptr")
    return ptr


def _load(lw, block, index, instr):
    ty = instr.arg("type")
    ptr = _address(lw, instr)
    if isinstance(ty, IntType) and ty.bits == 1:
        byte = lw.tmp()
        lw.emit(f"{byte} = load i8, ptr {ptr}")
        lw.define(instr, f"trunc i8 {byte} to i1")
    else:
        lw.define(instr, f"load {llvm_type(ty)}, ptr {ptr}")


def _thread_local(lw, block, index, instr):
    """The running thread's block is the hidden first argument: its address plus the
    offset."""
    base = lw.tmp()
    lw.emit(f"{base} = ptrtoint ptr %thread to i64")
    lw.define(instr, f"add i64 {base}, {instr.arg('offset')}")


def _store(lw, block, index, instr):
    ty = instr.arg("type")
    ptr = _address(lw, instr)
    (v,) = _operands(lw, instr, "value")
    if isinstance(ty, IntType) and ty.bits == 1:
        byte = lw.tmp()
        lw.emit(f"{byte} = zext i1 {v} to i8")
        lw.emit(f"store i8 {byte}, ptr {ptr}")
    else:
        lw.emit(f"store {llvm_type(ty)} {v}, ptr {ptr}")


def _branch(lw, block, index, instr):
    lw.emit(f"br label %{lw.edge(instr.arg('dest'))}")


def _branch2(lw, block, index, instr):
    (c,) = _operands(lw, instr, "cond")
    t, f = lw.edge(instr.arg("iftrue")), lw.edge(instr.arg("iffalse"))
    lw.emit(f"br i1 {c}, label %{t}, label %{f}")


def _switch(lw, block, index, instr):
    ty = instr.arg("type")
    t = llvm_type(ty)
    (v,) = _operands(lw, instr, "value")
    default = lw.edge(instr.arg("default"))
    cases = " ".join(f"{t} {llvm_literal(k, ty)}, label %{lw.edge(d)}"
                     for k, d in instr.arg("cases"))
    lw.emit(f"switch {t} {v}, label %{default} [ {cases} ]")


def _ret(lw, block, index, instr):
    values = instr.arg("values")
    if not values:
        lw.emit("ret void")
        return
    ty = lw.result_type
    lw.emit(f"ret {llvm_type(ty)} {lw.value(values[0], ty)}")


def _fill_buffer(lw, operands, types) -> str:
    """Store arguments into the frame's argument buffer (as i64 words); returns it."""
    lw.buffer_words = max(lw.buffer_words, len(operands))
    for i, (operand, ty) in enumerate(zip(operands, types)):
        p = lw.tmp()
        lw.emit(f"{p} = getelementptr i64, ptr %argbuf, i64 {i}")
        lw.emit(f"store i64 {lw.as_i64(lw.value(operand, ty), ty)}, ptr {p}")
    return "%argbuf"


def _call_state(lw, block, index, instr):
    """The waiting state of a call: its own, or this version's identity state, holding
    the call's keep-alive values too."""
    state = instr.state()
    if state is None:
        state = lw.identity_state(block, index, instr)
    return lw.with_keepalives(state, instr)


def _after_call(lw, block, index, instr, result, ty, restarts=False):
    """Bind the result, check the status word, and offer a deopt-stress exit (which hands
    the result to the frame it resumes, unless that frame runs the operation again:
    `restarts`)."""
    if instr.results:
        lw.alias[instr.results[0]] = result
    state = _call_state(lw, block, index, instr)
    pending = (Var(instr.results[0]), ty) if instr.results and not restarts else None
    lw.check_status(lazy=(state, True, pending))
    lw.stress_check(lambda: lw.deopt_exit("stress", f"deopt-stress after {instr.op}", state,
                                          waiting=True, pending=pending))


def _statepoint_values(lw, block, index, instr, kind):
    """The recorded values and site of a call: its waiting state plus GC-only values."""
    state = _call_state(lw, block, index, instr)
    frames, values = lw.flatten(state, True)
    extras = lw.gc_extras(block, index, instr, values)
    site = lw.new_site(SiteDesc(kind, instr.op, frames, len(extras)))
    return lw.recorded(values + extras), site, len(frames)


def _ccall(lw, block, index, instr):
    extern = lw.module.externs[instr.arg("callee")]
    if extern.ic:
        _inline_cache(lw, block, index, instr, extern)
        return
    args = instr.arg("args")
    buf = _fill_buffer(lw, args, extern.sig.params)
    recorded, site, _ = _statepoint_values(lw, block, index, instr, "ccall")
    request = REQUEST["helper"] | (lw.link.helper_index(extern.name) << PAYLOAD_SHIFT)
    r = lw.statepoint_stub(str(request), recorded, buf, site)
    ty = extern.sig.results[0] if extern.sig.results else None
    _after_call(lw, block, index, instr, lw.from_i64(r, ty) if ty else r, ty)


def _inline_cache(lw, block, index, instr, extern):
    """A CCALL of a cached helper (native/inline_cache.py): the patch region (anyregcc:
    its operands and result in registers the stack map names); when it answers MISS,
    the helper through the runtime (`ic_miss`), with the stack map a CCALL has."""
    args, params = instr.arg("args"), extern.sig.params
    passed = [lw.as_i64(lw.value(a, t), t) for i, (a, t) in enumerate(zip(args, params))
              if i != 1]                                   # not the name: the region knows it
    ic = len(lw.inline_caches)
    lw.inline_caches.append((extern.ic, extern.name, lw.link.helper_index(extern.name),
                             instr.line))
    lw.declare("declare i64 @llvm.experimental.patchpoint.i64(i64, i32, ptr, i32, ...)")
    region, missed = lw.tmp("ic"), lw.tmp()
    lw.emit(f"{region} = call anyregcc i64 (i64, i32, ptr, i32, ...) "
            f"@llvm.experimental.patchpoint.i64(i64 {IC_ID_BASE + ic}, i32 {REGION_BYTES}, "
            f"ptr null, i32 {len(passed)}, {', '.join('i64 ' + p for p in passed)})")
    lw.emit(f"{missed} = icmp eq i64 {region}, {IC_MISS}")
    hit, miss, joined = lw.current_label, lw.label("ic_miss"), lw.label("ic_joined")
    lw.emit(f"br i1 {missed}, label %{miss}, label %{joined}, !prof !0")
    lw.start_block(miss)
    buf = _fill_buffer(lw, args, params)
    recorded, site, _ = _statepoint_values(lw, block, index, instr, "ccall")
    request = REQUEST["ic_miss"] | (ic << PAYLOAD_SHIFT)
    slow = lw.statepoint_stub(str(request), recorded, buf, site)
    came_from = lw.current_label
    lw.emit(f"br label %{joined}")
    lw.start_block(joined)
    r = lw.tmp()
    lw.emit(f"{r} = phi i64 [{region}, %{hit}], [{slow}, %{came_from}]")
    ty = extern.sig.results[0] if extern.sig.results else None
    _after_call(lw, block, index, instr, lw.from_i64(r, ty) if ty else r, ty,
                restarts=IC_KINDS[extern.ic].restarts)


def _call(lw, block, index, instr):
    sig = instr.arg("sig")
    args = instr.arg("args")
    ty = sig.results[0] if sig.results else None
    callee = instr.arg("callee")
    fid = lw.value(callee, None)
    cellp, fp, isnull = lw.tmp(), lw.tmp(), lw.tmp()
    off = lw.tmp()
    lw.emit(f"{off} = mul i64 {fid}, 8")
    lw.emit(f"{cellp} = add i64 {off}, {lw.link.cells_base}")
    cptr = lw.tmp()
    lw.emit(f"{cptr} = inttoptr i64 {cellp} to ptr")
    lw.emit(f"{fp} = load ptr, ptr {cptr}")
    lw.emit(f"{isnull} = icmp eq ptr {fp}, null")
    slow, fast, join = lw.label("interp_call"), lw.label("native_call"), lw.label("joined")
    lw.emit(f"br i1 {isnull}, label %{slow}, label %{fast}")
    # native code: a direct statepoint call of the callee's entry
    lw.start_block(fast)
    recorded, site, frames = _statepoint_values(lw, block, index, instr, "call")
    params = ", ".join(["ptr", "i64"] + [llvm_type(t) for t in sig.params])
    argvals = ", ".join(["ptr %thread", f"i64 {lw.depth_at_call(frames)}"] +
                        [lw.typed(a, t) for a, t in zip(args, sig.params)])
    rty = llvm_type(ty) if ty is not None else "void"
    tok = lw.tmp("tok")
    lw.emit(f"{tok} = call token (i64, i32, ptr, i32, i32, ...) "
            f"@llvm.experimental.gc.statepoint.p0(i64 {site}, i32 0, "
            f"ptr elementtype({rty} ({params})) {fp}, i32 {len(args) + 2}, i32 0, "
            f"{argvals}, i32 0, i32 0) [ \"deopt\"({', '.join(recorded)}) ]")
    fast_result = None
    if ty is not None:
        fast_result = lw.tmp()
        suffix = "f64" if isinstance(ty, DoubleType) else llvm_type(ty)
        lw.emit(f"{fast_result} = call {rty} @llvm.experimental.gc.result.{suffix}(token {tok})")
        lw.declare(f"declare {rty} @llvm.experimental.gc.result.{suffix}(token)")
    fast_end = lw.label("fast_end")
    lw.emit(f"br label %{fast_end}")
    lw.start_block(fast_end)
    lw.emit(f"br label %{join}")
    # no native code yet: the runtime calls it (interpreting or compiling it first)
    lw.start_block(slow)
    buf = _fill_buffer(lw, args, sig.params)
    recorded, site, frames = _statepoint_values(lw, block, index, instr, "call")
    # The runtime reads the depth from the thread block (the buffer holds the arguments).
    lw.emit(f"store i64 {lw.depth_at_call(frames)}, ptr {lw.thread_word('depth')}")
    req = lw.tmp()
    sh = lw.tmp()
    lw.emit(f"{sh} = shl i64 {fid}, {PAYLOAD_SHIFT}")
    lw.emit(f"{req} = or i64 {sh}, {REQUEST['call']}")
    r = lw.statepoint_stub(req, recorded, buf, site)
    slow_result = lw.from_i64(r, ty) if ty is not None else None
    slow_end = lw.label("slow_end")
    lw.emit(f"br label %{slow_end}")
    lw.start_block(slow_end)
    lw.emit(f"br label %{join}")
    lw.start_block(join)
    result = None
    if ty is not None:
        result = lw.tmp()
        lw.emit(f"{result} = phi {rty} [ {fast_result}, %{fast_end} ], "
                f"[ {slow_result}, %{slow_end} ]")
    _after_call(lw, block, index, instr, result, ty)


def _trap(lw, block, index, instr):
    """Native code does not stop in place: it leaves for the interpreter resuming *at* the
    trap in this very version — or, for a trap inlined from another function (its waiting
    state has a parent), at the trap in the frames it was inlined from, as the interpreter
    does — so the interpreter runs the trap (handler, keep-alives, result) exactly as it
    would have.  The runtime turns every native frame of the stack into interpreter frames
    first (engine.py); the rest of the block is not lowered."""
    state = instr.state()
    if state is None or state.parent is None:
        state = lw.identity_state(block, index)
    lw.deopt_exit("trap", "trap", state)


def _watchpoint(lw, block, index, instr):
    flag = lw.link.watchpoint_address(instr.arg("id"))
    p, v, on = lw.tmp(), lw.tmp(), lw.tmp()
    lw.emit(f"{p} = inttoptr i64 {flag} to ptr")
    lw.emit(f"{v} = load volatile i64, ptr {p}")
    lw.emit(f"{on} = icmp ne i64 {v}, 0")
    enabled = lw.label("watch_on")
    disabled = lw.edge(instr.arg("disabled"))
    lw.emit(f"br i1 {on}, label %{enabled}, label %{disabled}")
    lw.start_block(enabled)
    lw.deopt_exit("watchpoint", "watchpoint", lw.identity_state(block, index))


def _safepoint(lw, block, index, instr):
    state = instr.state() or lw.identity_state(block, index + 1)
    if lw.link.loop_polls:
        _poll(lw, block, index, instr, state)
    lw.stress_check(lambda: lw.deopt_exit("stress", "deopt-stress at SAFEPOINT", state))


def _breakpoint(lw, block, index, instr):
    """An enabled safepoint: read the breakpoint's flag word; when armed, stop there for
    the debugger with the frame state (the frame stays native, runtime/breakpoints.py)."""
    state = instr.state() or lw.identity_state(block, index + 1)
    bpid = instr.arg("id")
    p = lw.tmp()
    lw.emit(f"{p} = inttoptr i64 {lw.link.breakpoint_address(bpid)} to ptr")
    _poll(lw, block, index, instr, state, word=p, kind="breakpoint",
          request=REQUEST["breakpoint"] | (bpid << PAYLOAD_SHIFT))


def _poll(lw, block, index, instr, state, word=None, kind="safepoint",
          request=REQUEST["safepoint"]):
    """Read the thread's poll word (or `word`); when set, stop at a safepoint with
    `state`."""
    p = word or lw.thread_word("poll")
    v, on = lw.tmp(), lw.tmp()
    lw.emit(f"{v} = load volatile i64, ptr {p}")
    lw.emit(f"{on} = icmp ne i64 {v}, 0")
    slow, cont = lw.label(f"{kind}_slow"), lw.label("polled")
    lw.emit(f"br i1 {on}, label %{slow}, label %{cont}, !prof !0")
    lw.start_block(slow)
    frames, values = lw.flatten(state, False)
    # A thread may stop here while another collects: traced values the optimized code
    # keeps across the poll that no frame state names are roots too.
    extras = lw.gc_extras(block, index, instr, values)
    site = lw.new_site(SiteDesc(kind, "poll" if kind == "safepoint" else kind, frames,
                                len(extras)))
    lw.statepoint_stub(request, lw.recorded(values + extras), site_id=site)
    lw.check_status(lazy=(state, False, None))
    lw.emit(f"br label %{cont}")
    lw.start_block(cont)


def _guard(lw, block, index, instr):
    state = instr.state()
    reason = instr.arg("reason")
    replay = instr in lw.version.replays
    lw.stress_check(lambda: lw.deopt_exit("stress", f"deopt-stress at guard {reason}", state,
                                          replay=replay))
    (c,) = _operands(lw, instr, "cond")
    ok, fail = lw.label("guard_ok"), lw.label("guard_fail")
    lw.emit(f"br i1 {c}, label %{ok}, label %{fail}, !prof !1")
    lw.start_block(fail)
    lw.deopt_exit("guard", reason, state, replay=replay)
    lw.start_block(ok)


def _deopt(lw, block, index, instr):
    lw.deopt_exit("deopt", instr.arg("reason"), instr.arg("state"),
                  replay=instr in lw.version.replays)


def _profile(lw, block, index, instr):
    """Profiles are collected by the interpreter only."""


def _unreachable(lw, block, index, instr):
    site = lw.new_site(SiteDesc("entry", "unreachable", ()))
    lw.statepoint_stub(REQUEST["unreachable"], [], site_id=site)
    lw.emit(lw.zero())


LOWER = {
    "ADD": _simple("add"), "SUB": _simple("sub"), "MUL": _simple("mul"),
    "SDIV": _division("sdiv"), "SREM": _division("srem"),
    "UDIV": _division("udiv"), "UREM": _division("urem"),
    "SHL": _shift("shl"), "LSHR": _shift("lshr"), "ASHR": _shift("ashr"),
    "AND": _simple("and"), "OR": _simple("or"), "XOR": _simple("xor"),
    "FADD": _machine_fp("fadd"), "FSUB": _machine_fp("fsub"), "FMUL": _machine_fp("fmul"),
    "FDIV": _machine_fp("fdiv"), "FREM": _simple("frem"), "FNEG": _fneg,
    "EQ": _compare("eq"), "NE": _compare("ne"), "SLT": _compare("slt"),
    "SLE": _compare("sle"), "SGT": _compare("sgt"), "SGE": _compare("sge"),
    "ULT": _compare("ult"), "ULE": _compare("ule"), "UGT": _compare("ugt"),
    "UGE": _compare("uge"),
    "FOEQ": _compare("oeq", "fcmp"), "FONE": _compare("one", "fcmp"),
    "FOLT": _compare("olt", "fcmp"), "FOLE": _compare("ole", "fcmp"),
    "FOGT": _compare("ogt", "fcmp"), "FOGE": _compare("oge", "fcmp"),
    "FUNE": _compare("une", "fcmp"), "FUNO": _compare("uno", "fcmp"),
    "TRUNC": _conversion, "ZEXT": _conversion, "SEXT": _conversion, "SITOFP": _conversion,
    "UITOFP": _conversion, "FPTOSI": _conversion, "BITCAST": _conversion,
    "SELECT": _select,
    "TR64_IS_FP": _masked_compare(tagref.QNAN, tagref.QNAN, "ne"),
    "TR64_IS_REF": _masked_compare(tagref.REF_TAG, tagref.REF_TAG, "eq"),
    "TR64_IS_INT": _masked_compare(tagref.REF_TAG, tagref.QNAN, "eq"),
    "TR64_TO_FP": _tr64_to_fp,
    "TR64_TO_REF": _masking(tagref.ADDR_MASK),
    "TR64_TO_INT": _masking(tagref.INT_MASK),
    "TR64_FROM_FP": _tr64_from_fp,
    "TR64_FROM_REF": _masking(tagref.REF_TAG, "or"),
    "TR64_FROM_INT": _tr64_from_int,
    "LOAD": _load, "STORE": _store, "THREAD_LOCAL": _thread_local,
    "BRANCH": _branch, "BRANCH2": _branch2, "SWITCH": _switch, "RET": _ret,
    "CALL": _call, "PATCHPOINT": _call, "CCALL": _ccall,
    "TRAP": _trap, "WATCHPOINT": _watchpoint, "SAFEPOINT": _safepoint,
    "BREAKPOINT": _breakpoint,
    "GUARD": _guard, "DEOPT": _deopt, "PROFILE": _profile, "UNREACHABLE": _unreachable,
}

PRELUDE = """declare i64 @{stub}(ptr, i64, ptr)
declare token @llvm.experimental.gc.statepoint.p0(i64, i32, ptr, i32, i32, ...)
declare i64 @llvm.experimental.gc.result.i64(token)
declare ptr @llvm.frameaddress.p0(i32)
"""
# noredzone: an inline-cache region pushes the scratch registers it saves, so no data may
# live below the stack pointer.
EPILOGUE = """attributes #0 = { "frame-pointer"="all" noredzone }
!0 = !{!"branch_weights", i32 1, i32 1000}
!1 = !{!"branch_weights", i32 1000, i32 1}
"""


def lower_version(module, version, link: LinkInfo, symbol: str) -> Lowered:
    """The LLVM module text of one version (with its declarations) and its sites."""
    lowering = Lowering(module, version, link, symbol, LOWER)
    lowered = lowering.run()
    decls = PRELUDE.format(stub=STUB_SYMBOL) + "".join(
        d + "\n" for d in sorted(lowering.declarations)
        if "gc.result.i64(" not in d)
    lowered.text = decls + lowered.text + "\n" + EPILOGUE
    return lowered

