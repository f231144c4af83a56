"""The native thread block: the words native code and the runtime share for one thread.

Native functions receive the block's address as their hidden first argument.  Each field is
one 64-bit word at a fixed offset; this table is the only place the offsets are written.
"""
from dataclasses import dataclass

from ..heap.allocator import SIZE_CLASS_WORDS
from ..ir.inline_caches import CALL_RECORD_WORDS


@dataclass(frozen=True, slots=True)
class Field:
    """Words of the thread block: name, byte offset, meaning, and how many words."""

    name: str
    offset: int
    doc: str
    words: int = 1


FIELDS = (
    Field("poll", 0, "non-zero when a safepoint operation is pending (polled at entries "
                     "and loop back-edges)"),
    Field("status", 8, "0 normally; non-zero while a guest error or VM error unwinds "
                       "native frames (checked after every call)"),
    Field("stack_limit", 16, "lowest stack address native prologues may use (set out of "
                             "reach by a safepoint request: the prologue's check is the "
                             "entry poll)"),
    Field("stress_countdown", 24, "deopt-stress: deopt when this reaches zero"),
    Field("runtime_entry", 32, "address of the runtime's callback the entry stub calls"),
    Field("cells", 40, "address of the function entry-cell table"),
    Field("deopt_target", 48, "frame address of the native frame that must deoptimize "
                              "when its call returns (status LAZY_DEOPT); DEOPT_ALL: "
                              "every native frame of the thread (a debugger steps)"),
    Field("depth", 56, "guest frames (of every tier) under the callee of a call request "
                       "(native callees get it as their hidden depth argument)"),
    Field("thread_id", 64, "the VM thread's index + 1 (0: a block of no thread): what a "
                           "lock biased to it holds (biased acquire and release)"),
    Field("alloc_since", 72, "bytes this thread's native code allocated since the heap last "
                             "counted them (at a refill or a collection)"),
    Field("alloc_limit", 80, "bytes it may allocate before taking the slow path (0 under "
                             "GC and handshake stress: every allocation is slow)"),
    Field("alloc_heads", 88, "the thread's own free lists, one head per heap size class "
                             "(0: empty), popped by native allocation without a lock; the "
                             "slow path refills them from the heap's",
          len(SIZE_CLASS_WORDS)),
    Field("call_record", 88 + 8 * len(SIZE_CLASS_WORDS),
          "the call record (closure, code, this) of the method lookup an `invoke` inline "
          "cache's miss just made (inline_cache.py), read by native code right after; "
          "roots while they hold them", CALL_RECORD_WORDS),
    Field("runtime_wanted", 88 + 8 * (len(SIZE_CLASS_WORDS) + CALL_RECORD_WORDS),
          "non-zero while the runtime must see the thread's next poll (a safepoint "
          "operation, a frame leaving lazily, handshake stress): a runtime-entry front "
          "(`NativeEngine.set_entry_front`) that serves a poll itself passes it on then"),
    Field("stack_floor", 96 + 8 * (len(SIZE_CLASS_WORDS) + CALL_RECORD_WORDS),
          "the real stack limit, which a poll request moves stack_limit away from; a "
          "front serving a poll puts it back from here"),
    Field("sample", 104 + 8 * (len(SIZE_CLASS_WORDS) + CALL_RECORD_WORDS),
          "non-zero: the id of a stack sample a profiler asked for at the thread's next "
          "poll, which its front records natively; cleared when Python calls native "
          "code on the thread or native code returns to Python (the frames under the "
          "native code, read when the sample was asked for, change then)"),
)
OFFSET = {f.name: f.offset for f in FIELDS}
SIZE_WORDS = sum(f.words for f in FIELDS)

STATUS_OK, STATUS_ERROR, STATUS_LAZY_DEOPT = 0, 1, 2
DEOPT_ALL = 1       # a deopt_target no frame has (frames are 16-byte aligned)
# Never stored in the word: a trampled region (trample.py) ORs it into what it reads, so
# the code after a call of an invalid unit leaves lazily; the low bits keep the status.
STATUS_TRAMPLED, STATUS_MASK = 8, 7


@dataclass(frozen=True, slots=True)
class Request:
    """A kind of runtime entry: what native code asks the runtime for."""

    name: str
    code: int
    doc: str


REQUESTS = (
    Request("helper", 1, "call runtime helper (payload: helper index) with the argument buffer"),
    Request("call", 2, "call a function that has no native code (payload: function id)"),
    Request("deopt", 3, "deoptimize this frame at a patchpoint: rebuild interpreter frames, "
                        "run them to completion, return their result (an OSR entry's only "
                        "frame returns at once: the interpreter that entered it runs them)"),
    Request("safepoint", 4, "a poll found work: run pending safepoint operations"),
    Request("stack_overflow", 5, "the prologue found the guest depth too deep"),
    Request("unreachable", 6, "an UNREACHABLE was executed"),
    Request("entry_poll", 7, "the prologue found the stack limit crossed: a safepoint "
                             "request (then the function starts) or a stack overflow"),
    Request("ic_miss", 8, "an inline cache missed (payload: its index in the unit): call "
                          "its helper with the argument buffer, then maybe patch the region"),
    Request("breakpoint", 9, "an armed breakpoint site was reached (payload: its id): stop "
                             "for the debugger"),
)
REQUEST = {r.name: r.code for r in REQUESTS}
REQUEST_BY_CODE = {r.code: r for r in REQUESTS}
PAYLOAD_SHIFT = 8
