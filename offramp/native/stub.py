"""The one hand-written entry stub: native code's only door into the runtime.

Native code calls `offramp_runtime_entry(thread, request, args)` — through a patchpoint at
deopt exits (values may sit in any register there) and through a gc.statepoint at runtime
calls (values spilled to the stack).  The stub saves every general-purpose and XMM
register into a save area on its own stack and calls the runtime's callback with (thread,
save area).  The callback's i64 result is returned to native code.  The save area also
anchors frame walks: the caller's rsp and rbp are in it, and its return address sits just
above the stub's frame (engine.anchor_of).

Save area layout (SAVE_AREA_BYTES bytes), indexed like DWARF register numbers so that a
stack-map Register location reads `save[regno]`:
| words 0..15  | rax rdx rcx rbx rsi rdi rbp rsp r8..r15 (rbp and rsp: the caller's) |
| bytes 128..383 | xmm0..xmm15, 16 bytes each (DWARF 17..32)                         |
"""
from .threadblock import OFFSET

GPR_DWARF = ("rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
             "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
XMM_BASE_DWARF = 17
XMM_SAVE_OFFSET = 128
SAVE_AREA_BYTES = 128 + 16 * 16
STUB_SYMBOL = "offramp_runtime_entry"


def _save_gpr(index: int, name: str) -> list:
    """Instructions saving one GPR (rbp/rsp: the values the caller had)."""
    if name == "rbp":
        return ["movq 0(%rbp), %rax", f"movq %rax, {8 * index}(%rsp)"]
    if name == "rsp":
        return ["leaq 16(%rbp), %rax", f"movq %rax, {8 * index}(%rsp)"]
    return [f"movq %{name}, {8 * index}(%rsp)"]


def stub_assembly() -> list:
    """The stub's instructions (AT&T syntax), one per line."""
    lines = [".text", f".globl {STUB_SYMBOL}", f".type {STUB_SYMBOL},@function",
             f"{STUB_SYMBOL}:", "pushq %rbp", "movq %rsp, %rbp",
             f"subq ${SAVE_AREA_BYTES}, %rsp"]
    lines.append("movq %rax, 0(%rsp)")   # rax first: the rbp/rsp saves use it as scratch
    for index, name in enumerate(GPR_DWARF[1:], start=1):
        lines += _save_gpr(index, name)
    for i in range(16):
        lines.append(f"movdqu %xmm{i}, {XMM_SAVE_OFFSET + 16 * i}(%rsp)")
    lines += ["movq %rsp, %rsi", f"callq *{OFFSET['runtime_entry']}(%rdi)",
              "movq %rbp, %rsp", "popq %rbp", "retq"]
    return lines


def stub_module_asm() -> str:
    """The stub as LLVM `module asm` lines, for the module that defines it."""
    return "".join(f'module asm "{line}"\n' for line in stub_assembly())
