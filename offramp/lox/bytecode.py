"""clox's bytecode format, as far as its limits reach: instruction sizes and the 8/16-bit bounds.

offramp never emits clox bytecode, but clox rejects programs whose bytecode would not fit its
format: more than 256 constants in one function's chunk, 256 locals or upvalues in one
function, a jump or loop over more than 65535 bytes.  To report exactly those programs, at the
same tokens, the parser keeps a `Chunk` per function being parsed and advances it at every
point where clox's compiler.c emits an instruction or adds a constant, using the instruction
sizes of this table.  Only sizes matter: no byte is ever produced.
"""
from __future__ import annotations

from dataclasses import dataclass

# Size in bytes (opcode and operands) of each instruction clox's compiler emits.
# OP_CLOSURE is followed by UPVALUE_OPERAND_SIZE more bytes per upvalue of the function.
INSTRUCTION_SIZES: dict[str, int] = {
    "CONSTANT": 2,
    "NIL": 1,
    "TRUE": 1,
    "FALSE": 1,
    "POP": 1,
    "GET_LOCAL": 2,
    "SET_LOCAL": 2,
    "GET_GLOBAL": 2,
    "DEFINE_GLOBAL": 2,
    "SET_GLOBAL": 2,
    "GET_UPVALUE": 2,
    "SET_UPVALUE": 2,
    "GET_PROPERTY": 2,
    "SET_PROPERTY": 2,
    "GET_SUPER": 2,
    "EQUAL": 1,
    "GREATER": 1,
    "LESS": 1,
    "ADD": 1,
    "SUBTRACT": 1,
    "MULTIPLY": 1,
    "DIVIDE": 1,
    "NOT": 1,
    "NEGATE": 1,
    "PRINT": 1,
    "JUMP": 3,
    "JUMP_IF_FALSE": 3,
    "LOOP": 3,
    "CALL": 2,
    "INVOKE": 3,
    "SUPER_INVOKE": 3,
    "CLOSURE": 2,
    "CLOSE_UPVALUE": 1,
    "RETURN": 1,
    "CLASS": 2,
    "INHERIT": 1,
    "METHOD": 2,
}
UPVALUE_OPERAND_SIZE = 2

# The instructions of each binary operator (clox has no !=, <= or >= instruction).
BINARY_INSTRUCTIONS: dict[str, tuple[str, ...]] = {
    "!=": ("EQUAL", "NOT"),
    "==": ("EQUAL",),
    ">": ("GREATER",),
    ">=": ("LESS", "NOT"),
    "<": ("LESS",),
    "<=": ("GREATER", "NOT"),
    "+": ("ADD",),
    "-": ("SUBTRACT",),
    "*": ("MULTIPLY",),
    "/": ("DIVIDE",),
}
UNARY_INSTRUCTIONS: dict[str, str] = {"!": "NOT", "-": "NEGATE"}

MAX_CONSTANTS = 256      # a one-byte constant index
MAX_LOCALS = 256         # a one-byte stack slot, slot zero included
MAX_UPVALUES = 256       # a one-byte upvalue index
MAX_JUMP = 65535         # a two-byte jump or loop offset

TOO_MANY_CONSTANTS = "Too many constants in one chunk."
TOO_MANY_LOCALS = "Too many local variables in function."
TOO_MANY_UPVALUES = "Too many closure variables in function."
JUMP_TOO_LARGE = "Too much code to jump over."
LOOP_TOO_LARGE = "Loop body too large."


@dataclass(slots=True)
class Chunk:
    """The size of the chunk clox would have emitted so far for one function, and its constants."""

    size: int = 0
    constants: int = 0

    def emit(self, *instructions: str) -> None:
        """Account for `instructions`, emitted one after the other."""
        for instruction in instructions:
            self.size += INSTRUCTION_SIZES[instruction]

    def emit_closure(self, upvalues: int) -> None:
        """Account for OP_CLOSURE of a function with `upvalues` upvalues."""
        self.size += INSTRUCTION_SIZES["CLOSURE"] + UPVALUE_OPERAND_SIZE * upvalues

    def add_constant(self) -> bool:
        """Add a constant (clox never reuses one); False if its index no longer fits a byte."""
        self.constants += 1
        return self.constants <= MAX_CONSTANTS
