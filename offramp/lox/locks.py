"""Biased locks: `lock.acquire()` and `lock.release()` as IR with a fast path of plain loads
and stores for the thread the lock is biased to.

A Lock is biased to the first thread that takes it (`LoxRuntime.lock_acquire` sets its
`bias` word to that thread's id).  From then on that thread's acquire is: the lock's bias
is my id (THREAD_LOCAL's `thread_id` word) and nobody holds it? store my id as the
holder; its release: biased to me and held by me? store 0 — no helper call, no lock, no
atomic instruction.  Anything else takes the slow path, the runtime helper, which holds
the VM lock.  When another thread wants a biased lock, the helper first revokes the bias
by a handshake with the thread it is biased to: that thread is then stopped at a safepoint,
so it is never between the loads and the store of its fast path, and after the handshake
its fast paths fail (the bias is LOCK_REVOKED): the lock is a real lock from then on.
"""
from ..heap.layout import LOCK_BIAS, LOCK_HOLDER
from ..ir.builder import dest
from ..ir.nodes import Imm, Sym, Var
from ..ir.types import I1, I64, TAGREF64
from ..native.threadblock import OFFSET

FAST_PATHS = {"lox.lock_acquire": "acquire", "lox.lock_release": "release"}


def build_lock_native(vb, helper: str, params) -> None:
    """The body of `@lox.native.Lock.acquire` / `.release` (in `vb`, an UNSAFE version
    whose entry block takes `params`): the biased fast path, else the helper."""
    entry, fast, slow = vb.new_block("entry", params), vb.new_block("fast"), vb.new_block("slow")
    vb.position_at_end(entry)
    lock = vb.value("TR64_TO_REF", Var("this"))
    me = vb.value("LOAD", I64, vb.value("THREAD_LOCAL", OFFSET["thread_id"]), 0)
    bias = vb.value("LOAD", I64, lock, LOCK_BIAS)
    holder = vb.value("LOAD", I64, lock, LOCK_HOLDER)
    mine = vb.value("AND", I1, vb.value("EQ", I64, bias, me), vb.value("NE", I64, me, Imm(0)))
    expected = Imm(0) if FAST_PATHS[helper] == "acquire" else me
    ok = vb.value("AND", I1, mine, vb.value("EQ", I64, holder, expected))
    vb.emit("BRANCH2", ok, dest(fast), dest(slow))
    vb.position_at_end(fast)
    vb.emit("STORE", I64, lock, LOCK_HOLDER, me if FAST_PATHS[helper] == "acquire" else Imm(0))
    vb.emit("RET", (Sym("lox.nil"),))
    vb.position_at_end(slow)
    result = vb.value("CCALL", helper, (Var("this"),), (), None)
    vb.emit("RET", (result,))
