"""The collector's loops as machine code: marking, sweeping a page, linking a fresh page.

Marking is where a collection spends its time, and traced in Python it costs ~2 us an
object (binary_trees.lox spent 6 of its 7 collector seconds there).  The heap (a lower
layer) traces in Python by itself; a VM with a native tier installs this loop
(`Heap.set_mark_loop`), compiled once per process through LLVM, which does what
`Heap._drain` does word for word: pop an object's word index from the mark stack, read
its header's kind, visit the fixed words the trace plan lists and the traced tail up to
the header's size; a visited word that references a heap object not yet marked has the
object marked and pushed.  A word referencing no live object ends the loop with the
heap's own error (`dangling_reference` / `corrupt_reference`).

The trace plan goes to native code as a table of two words per kind id (PLAN_WORDS):
a bit mask of the traced fixed word indices (bit k: word k) and the word index where the
traced tail starts (0: none), or NOT_AN_OBJECT for a kind id no object has.

The mark stack is a buffer of word indices this object owns.  Before tracing an object
the loop checks that the buffer has room for every word the object could push (its size);
when it has not, the loop leaves the object on the stack and returns STACK_FULL, and the
buffer is doubled and the loop called again.  A reference is recognised as the heap's
Python code does, `(word - rb) >> 3` below the heap's word count, with the difference
taken modulo 2**64 and compared unsigned: the two agree because rb (REF_TAG | base) is
within 2**50 of 2**64 and the heap is far smaller than the 2**64 - rb that separates a
negative difference's residue from the heap's range.  A traced tail is read no further
than the heap's last word, whatever a header says.

The allocator's two per-page loops come here too (`Allocator.set_page_loops`), each doing
what its Python loop does: `link_page` makes a fresh page's blocks a free list in address
order; `sweep_page` walks a page's blocks from the top, unmarking the marked ones and
pushing the others (poisoned first, when poisoning is on) on the class's free list, so
that the list ascends, and counts the objects it freed and the blocks it kept.
"""
import ctypes
import threading

from ..heap import Heap
from ..heap.allocator import POISON
from ..heap.heap import corrupt_reference, dangling_reference
from ..heap.layout import HEADER_KIND_MASK, HEADER_MARK, HEADER_SIZE_MASK, HEADER_SIZE_SHIFT
from ..ir.tagref import REF_TAG
from .llvm_setup import compile_ir

DONE, STACK_FULL, DANGLING, CORRUPT = 0, 1, 2, 3
PLAN_WORDS = 2
NOT_AN_OBJECT = (1 << 64) - 1
INITIAL_STACK = 1 << 12
SYMBOL = "offramp_mark_drain"
LINK_SYMBOL = "offramp_link_page"
SWEEP_SYMBOL = "offramp_sweep_page"

MARK_LOOP_IR = f"""
define internal i64 @visit(ptr %mem, i64 %rb, i64 %n, ptr %plan, ptr %stack, i64 %sp,
                           i64 %w, ptr %state, i64 %parent) {{
entry:
  %d = sub i64 %w, %rb
  %j = lshr i64 %d, 3
  %inheap = icmp ult i64 %j, %n
  br i1 %inheap, label %ref, label %other
ref:
  %cp = getelementptr i64, ptr %mem, i64 %j
  %c = load i64, ptr %cp
  %m = and i64 %c, {HEADER_MARK}
  %marked = icmp ne i64 %m, 0
  br i1 %marked, label %same, label %unmarked
unmarked:
  %ck = and i64 %c, {HEADER_KIND_MASK}
  %ci = shl i64 %ck, 1
  %ti = or i64 %ci, 1
  %tp = getelementptr i64, ptr %plan, i64 %ti
  %t = load i64, ptr %tp
  %none = icmp eq i64 %t, -1
  br i1 %none, label %dangling, label %push
push:
  %c2 = or i64 %c, {HEADER_MARK}
  store i64 %c2, ptr %cp
  %slot = getelementptr i64, ptr %stack, i64 %sp
  store i64 %j, ptr %slot
  %sp2 = add i64 %sp, 1
  ret i64 %sp2
other:
  %tag = and i64 %w, {REF_TAG - (1 << 64)}
  %isref = icmp eq i64 %tag, {REF_TAG - (1 << 64)}
  br i1 %isref, label %corrupt, label %same
same:
  ret i64 %sp
dangling:
  call void @fail(ptr %state, i64 %w, i64 %parent)
  ret i64 -{DANGLING}
corrupt:
  call void @fail(ptr %state, i64 %w, i64 %parent)
  ret i64 -{CORRUPT}
}}

define internal void @fail(ptr %state, i64 %w, i64 %parent) {{
  %wp = getelementptr i64, ptr %state, i64 2
  store i64 %w, ptr %wp
  %pp = getelementptr i64, ptr %state, i64 3
  store i64 %parent, ptr %pp
  ret void
}}

define i64 @{SYMBOL}(ptr %mem, i64 %rb, i64 %n, ptr %plan, ptr %stack, ptr %state) {{
entry:
  %sp0 = load i64, ptr %state
  %capp = getelementptr i64, ptr %state, i64 1
  %cap = load i64, ptr %capp
  br label %loop
loop:
  %sp = phi i64 [ %sp0, %entry ], [ %spf, %fixed_done ], [ %spt, %tail_done ]
  %empty = icmp eq i64 %sp, 0
  br i1 %empty, label %done, label %pop
done:
  store i64 0, ptr %state
  ret i64 {DONE}
pop:
  %sp1 = sub i64 %sp, 1
  %slot = getelementptr i64, ptr %stack, i64 %sp1
  %i = load i64, ptr %slot
  %hp = getelementptr i64, ptr %mem, i64 %i
  %h = load i64, ptr %hp
  %kind = and i64 %h, {HEADER_KIND_MASK}
  %mi = shl i64 %kind, 1
  %mp = getelementptr i64, ptr %plan, i64 %mi
  %mask0 = load i64, ptr %mp
  %tp = getelementptr i64, ptr %mp, i64 1
  %tail = load i64, ptr %tp
  %hs = lshr i64 %h, {HEADER_SIZE_SHIFT}
  %size = and i64 %hs, {HEADER_SIZE_MASK}
  %room = sub i64 %cap, %sp1
  %fits = icmp uge i64 %room, %size
  br i1 %fits, label %fixed, label %full
full:
  store i64 %sp, ptr %state
  ret i64 {STACK_FULL}
fixed:
  %mask = phi i64 [ %mask0, %pop ], [ %rest, %fixed_next ]
  %spx = phi i64 [ %sp1, %pop ], [ %spv, %fixed_next ]
  %more = icmp ne i64 %mask, 0
  br i1 %more, label %fixed_visit, label %fixed_done
fixed_visit:
  %k = call i64 @llvm.cttz.i64(i64 %mask, i1 true)
  %low = sub i64 %mask, 1
  %rest = and i64 %mask, %low
  %wi = add i64 %i, %k
  %wp = getelementptr i64, ptr %mem, i64 %wi
  %w = load i64, ptr %wp
  %spv = call i64 @visit(ptr %mem, i64 %rb, i64 %n, ptr %plan, ptr %stack, i64 %spx,
                         i64 %w, ptr %state, i64 %h)
  %bad = icmp slt i64 %spv, 0
  br i1 %bad, label %failed, label %fixed_next
fixed_next:
  br label %fixed
fixed_done:
  %spf = phi i64 [ %spx, %fixed ]
  %hastail = icmp ne i64 %tail, 0
  br i1 %hastail, label %tail_start, label %loop
tail_start:
  %first = add i64 %i, %tail
  %end0 = add i64 %i, %size
  %past = icmp ugt i64 %end0, %n
  %end = select i1 %past, i64 %n, i64 %end0
  br label %tail_loop
tail_loop:
  %at = phi i64 [ %first, %tail_start ], [ %next, %tail_next ]
  %spy = phi i64 [ %spf, %tail_start ], [ %spw, %tail_next ]
  %left = icmp ult i64 %at, %end
  br i1 %left, label %tail_visit, label %tail_done
tail_visit:
  %tw = getelementptr i64, ptr %mem, i64 %at
  %w2 = load i64, ptr %tw
  %spw = call i64 @visit(ptr %mem, i64 %rb, i64 %n, ptr %plan, ptr %stack, i64 %spy,
                         i64 %w2, ptr %state, i64 %h)
  %bad2 = icmp slt i64 %spw, 0
  br i1 %bad2, label %failed2, label %tail_next
tail_next:
  %next = add i64 %at, 1
  br label %tail_loop
tail_done:
  %spt = phi i64 [ %spy, %tail_loop ]
  br label %loop
failed:
  %code = sub i64 0, %spv
  ret i64 %code
failed2:
  %code2 = sub i64 0, %spw
  ret i64 %code2
}}

declare i64 @llvm.cttz.i64(i64, i1)

define i64 @{LINK_SYMBOL}(ptr %page, i64 %words, i64 %count, i64 %header) {{
entry:
  %page_addr = ptrtoint ptr %page to i64
  %step = shl i64 %words, 3
  br label %loop
loop:
  %j = phi i64 [ 0, %entry ], [ %j1, %loop ]
  %offset = mul i64 %j, %step
  %block = getelementptr i8, ptr %page, i64 %offset
  store i64 %header, ptr %block
  %j1 = add i64 %j, 1
  %last = icmp eq i64 %j1, %count
  %next_offset = add i64 %offset, %step
  %next_addr = add i64 %page_addr, %next_offset
  %next = select i1 %last, i64 0, i64 %next_addr
  %link = getelementptr i64, ptr %block, i64 1
  store i64 %next, ptr %link
  br i1 %last, label %done, label %loop
done:
  ret i64 %page_addr
}}

define i64 @{SWEEP_SYMBOL}(ptr %page, i64 %words, i64 %count, i64 %free_header,
                            i64 %poison, i64 %head0, ptr %counts) {{
entry:
  %page_addr = ptrtoint ptr %page to i64
  %step = shl i64 %words, 3
  br label %loop
loop:
  %j = phi i64 [ %count, %entry ], [ %j1, %next ]
  %head = phi i64 [ %head0, %entry ], [ %head1, %next ]
  %freed = phi i64 [ 0, %entry ], [ %freed1, %next ]
  %live = phi i64 [ 0, %entry ], [ %live1, %next ]
  %more = icmp ne i64 %j, 0
  br i1 %more, label %block, label %done
block:
  %j1 = sub i64 %j, 1
  %offset = mul i64 %j1, %step
  %bp = getelementptr i8, ptr %page, i64 %offset
  %h = load i64, ptr %bp
  %m = and i64 %h, {HEADER_MARK}
  %marked = icmp ne i64 %m, 0
  br i1 %marked, label %keep, label %free
keep:
  %unmarked = xor i64 %h, {HEADER_MARK}
  store i64 %unmarked, ptr %bp
  %live_k = add i64 %live, 1
  br label %next
free:
  %kind = and i64 %h, {HEADER_KIND_MASK}
  %was_object = icmp ne i64 %kind, 0
  %dead = zext i1 %was_object to i64
  %freed_f = add i64 %freed, %dead
  %do_poison = icmp ne i64 %poison, 0
  %poison_object = and i1 %was_object, %do_poison
  %wide = icmp ugt i64 %words, 2
  %fill_it = and i1 %poison_object, %wide
  br i1 %fill_it, label %fill, label %link
fill:
  %k = phi i64 [ 2, %free ], [ %k1, %fill ]
  %wp = getelementptr i64, ptr %bp, i64 %k
  store i64 {POISON - (1 << 64)}, ptr %wp
  %k1 = add i64 %k, 1
  %filled = icmp uge i64 %k1, %words
  br i1 %filled, label %link, label %fill
link:
  store i64 %free_header, ptr %bp
  %lp = getelementptr i64, ptr %bp, i64 1
  store i64 %head, ptr %lp
  %addr = add i64 %page_addr, %offset
  br label %next
next:
  %head1 = phi i64 [ %head, %keep ], [ %addr, %link ]
  %freed1 = phi i64 [ %freed, %keep ], [ %freed_f, %link ]
  %live1 = phi i64 [ %live_k, %keep ], [ %live, %link ]
  br label %loop
done:
  %fp = getelementptr i64, ptr %counts, i64 0
  %f0 = load i64, ptr %fp
  %f1 = add i64 %f0, %freed
  store i64 %f1, ptr %fp
  %lp2 = getelementptr i64, ptr %counts, i64 1
  %l0 = load i64, ptr %lp2
  %l1 = add i64 %l0, %live
  store i64 %l1, ptr %lp2
  ret i64 %head
}}
"""

_compiled = []
_compile_lock = threading.Lock()


_SIGNATURES = {
    SYMBOL: (ctypes.c_int64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64,
             ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p),
    LINK_SYMBOL: (ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64,
                  ctypes.c_uint64),
    SWEEP_SYMBOL: (ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64,
                   ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_void_p),
}


def _entry(symbol: str = SYMBOL):
    """One of the compiled loops as a ctypes function (the module is compiled on first use,
    once per process, and stays mapped)."""
    with _compile_lock:
        if not _compiled:
            code = compile_ir(MARK_LOOP_IR, "offramp_collector")
            functions = {name: ctypes.CFUNCTYPE(*types)(code.function_address(name))
                         for name, types in _SIGNATURES.items()}
            _compiled.append((code, functions))
        return _compiled[0][1][symbol]


def plan_table(plan: list):
    """The heap's trace plan as PLAN_WORDS words per kind id (see the module docstring)."""
    table = (ctypes.c_uint64 * (PLAN_WORDS * len(plan)))()
    for kind, entry in enumerate(plan):
        if entry is None:
            table[PLAN_WORDS * kind + 1] = NOT_AN_OBJECT
            continue
        fixed, tail = entry
        if any(not 0 < k < 64 for k in fixed):
            raise ValueError(f"kind {kind}: traced word indices {fixed} do not fit a mask")
        table[PLAN_WORDS * kind] = sum(1 << k for k in fixed)
        table[PLAN_WORDS * kind + 1] = tail
    return table


class NativeMarkLoop:
    """`Heap.set_mark_loop`'s loop for one heap: drains a mark stack in machine code."""

    def __init__(self, heap: Heap):
        self.heap = heap
        self.function = _entry()
        self.plan = plan_table(heap.trace_plan)
        self.state = (ctypes.c_uint64 * 4)()     # sp, capacity, bad word, its parent header
        self.stack = (ctypes.c_uint64 * INITIAL_STACK)()

    def __call__(self, stack: list) -> None:
        """Mark everything reachable from the (marked) objects whose word indices `stack`
        holds; empties it."""
        if not stack:
            return
        if len(stack) > len(self.stack):
            self.stack = (ctypes.c_uint64 * (2 * len(stack)))()
        self.stack[:len(stack)] = stack
        state = self.state
        state[0], state[1] = len(stack), len(self.stack)
        heap = self.heap
        while True:
            status = self.function(heap.base, heap.reference_base, heap.word_count,
                                   ctypes.addressof(self.plan), ctypes.addressof(self.stack),
                                   ctypes.addressof(state))
            if status == DONE:
                stack.clear()
                return
            if status == STACK_FULL:
                top = heap.mem64[self.stack[state[0] - 1]]
                size = (top >> HEADER_SIZE_SHIFT) & HEADER_SIZE_MASK
                self._grow(max(2 * len(self.stack), state[0] + size))
                continue
            stack.clear()
            raise (dangling_reference if status == DANGLING else corrupt_reference)(
                state[2], state[3])

    def _grow(self, capacity: int) -> None:
        """A larger buffer holding the pending part of the old one."""
        bigger = (ctypes.c_uint64 * capacity)()
        ctypes.memmove(bigger, self.stack, 8 * self.state[0])
        self.stack = bigger
        self.state[1] = capacity


class NativePageLoops:
    """`Allocator.set_page_loops`'s two loops, in machine code."""

    def __init__(self):
        self._link = _entry(LINK_SYMBOL)
        self._sweep = _entry(SWEEP_SYMBOL)
        self.counts = (ctypes.c_uint64 * 2)()

    def link_page(self, page: int, words: int, count: int, header: int) -> int:
        """Make the page's `count` blocks of `words` words a free list (headers `header`,
        ascending, 0-terminated); its first block."""
        return self._link(page, words, count, header)

    def sweep_page(self, page: int, words: int, count: int, free_header: int,
                   poison: bool, head: int) -> tuple:
        """Sweep one page of `count` blocks: (new free-list head, objects freed, blocks
        kept)."""
        counts = self.counts
        counts[0] = counts[1] = 0
        head = self._sweep(page, words, count, free_header, int(poison), head,
                           ctypes.addressof(counts))
        return head, counts[0], counts[1]
