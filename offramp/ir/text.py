"""The IR's text form: a Mu-style parser and printer with `parse_module(print_module(m)) == m`.

A module is a sequence of top-level definitions; `//` starts a comment to the end of the
line and whitespace (newlines included) only separates tokens:

    .typedef @NAME = int<N> | double | ref | ptr | tagref64 | void | funcref<@SIG>
    .funcsig @NAME = (@T ...) -> ()  |  (@T ...) -> (@T)
    .const @NAME <@T> = LITERAL
    .global @NAME <@T>
    .extern @NAME <@SIG> [PURE] [IC KIND]
    .funcdecl @NAME <@SIG>
    .funcdef @NAME VERSION %V <@SIG> [UNSAFE] { BLOCK... }

    BLOCK := %LABEL(<@T> %p ...):  INSTR...
    INSTR := [%r = | (%r ...) =]  [[%name]]  OPCODE  OPERAND...  [!LINE]

The operands of an instruction are parsed and printed position by position from the syntax
row of its opcode in `ops.OPS`: one reader and one writer per operand `Kind` (the text of
each kind is tabled in the docstring of `ops`), never per opcode.  A `WORD` position is the
keyword spelled as its spec's name upper-cased; an optional position (e.g. SAFEPOINT's
state) and an empty KEEPALIVE are omitted.  Literals: decimal or `0x` integers (optionally
negative) become `Imm(int)`; `1.5`, `-2.0e3`, `1e10`, `inf`, `-inf`, `nan`, `-nan` become
`Imm(float)` and floats are printed with `repr` (a NaN with its sign, as `nan` or `-nan`)
so every float round-trips (a NaN's payload is not kept).  A REASON is a
double-quoted string with the escapes `\\"`, `\\\\`, `\\n` (and `\\r`, `\\t`).

Types inside definitions and instructions are written by name.  The parser resolves a name
when it is used, so a type must be defined before its first use; the printer writes each
type definition after those it mentions (otherwise in module order), so any printable module
reads back equal.  Versions of one function may be spread over several `.funcdef`s, which
append in text order.  `UNSAFE` marks a version that may use the unsafe operations of
`ops` (see its docstring).  Every error is an `IRSyntaxError` at the offending token; the
parser records where each `.funcdef` and instruction starts in `Module.positions`, so that
the verifier's messages can say FILE:LINE:COL too.  Frame states are read and printed in a
loop, so a chain of thousands of PARENT states neither recurses nor overflows.
"""
import math
import re
from dataclasses import dataclass

from .nodes import (Block, ConstDef, Dest, ExternDef, FrameState, Function, FunctionVersion,
                    GlobalDef, Imm, Instr, Module, Sym, Var)
from .ops import OPS, Kind
from .types import (DOUBLE, PTR, REF, TAGREF64, VOID, DoubleType, FuncRefType, FuncSig,
                    IntType, PtrType, RefType, TagRef64Type, VoidType)

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


class IRSyntaxError(Exception):
    """A malformed IR text, located at the token where reading failed."""

    def __init__(self, filename: str, line: int, column: int, message: str):
        super().__init__(f"{filename}:{line}:{column}: {message}")
        self.filename, self.line, self.column, self.message = filename, line, column, message


# ----------------------------------------------------------------------------------- tokens

@dataclass(frozen=True, slots=True)
class Token:
    """One lexeme with its 1-based position; `value` is the decoded name/number/string."""

    kind: str      # gname lname string float int directive word punct eof
    text: str
    line: int
    column: int
    value: object = None

    def describe(self) -> str:
        """How an error message names this token."""
        return "end of file" if self.kind == "eof" else repr(self.text)


_END = r"(?![A-Za-z0-9_.])"
_TOKEN = re.compile(rf"""
    (?P<skip>[ \t\r\n]+|//[^\n]*)
  | (?P<gname>@[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<lname>%[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<string>"(?:[^"\\\n]|\\[^\n])*")
  | (?P<float>-?(?:\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|inf|nan){_END})
  | (?P<int>-?(?:0[xX][0-9A-Fa-f]+|\d+){_END})
  | (?P<directive>\.[A-Za-z]+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>->|[=<>(){{}}\[\]:!])
""", re.VERBOSE)

_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}
_ESCAPE_OF = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def tokenize(text: str, filename: str = "<ir>") -> list:
    """Split IR text into tokens, ending with an `eof` token."""
    tokens, pos, line, line_start = [], 0, 1, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        column = pos - line_start + 1
        if m is None:
            raise IRSyntaxError(filename, line, column, _lex_error(text, pos))
        kind, lexeme = m.lastgroup, m.group()
        if kind == "skip":
            newlines = lexeme.count("\n")
            if newlines:
                line += newlines
                line_start = pos + lexeme.rindex("\n") + 1
        else:
            tokens.append(Token(kind, lexeme, line, column,
                                _decode(kind, lexeme, filename, line, column)))
        pos = m.end()
    tokens.append(Token("eof", "", line, pos - line_start + 1))
    return tokens


def _lex_error(text: str, pos: int) -> str:
    """Say why no token starts at `pos`."""
    c = text[pos]
    if c == '"':
        return "unterminated string"
    if c in "@%":
        return f"expected a name after {c!r}"
    if c.isdigit() or c == "-":
        return f"malformed number {re.match(r'[-A-Za-z0-9_.+]*', text[pos:]).group()!r}"
    return f"unexpected character {c!r}"


def _decode(kind, lexeme, filename, line, column):
    """The value a token stands for."""
    if kind in ("gname", "lname"):
        return lexeme[1:]
    if kind == "int":
        return int(lexeme, 16) if "x" in lexeme.lower() else int(lexeme)
    if kind == "float":
        return float(lexeme)
    if kind == "string":
        out, i, body = [], 0, lexeme[1:-1]
        while i < len(body):
            if body[i] == "\\":
                if body[i + 1] not in _ESCAPES:
                    raise IRSyntaxError(filename, line, column + 1 + i,
                                        f"unknown escape '\\{body[i + 1]}'")
                out.append(_ESCAPES[body[i + 1]])
                i += 2
            else:
                out.append(body[i])
                i += 1
        return "".join(out)
    return lexeme


# ----------------------------------------------------------------------------------- parser

def parse_module(text: str, filename: str = "<ir>") -> Module:
    """Read a module from its text form; raises IRSyntaxError at the first error."""
    return _Parser(text, filename).module_()


class _Parser:
    """Recursive descent over the token list; operand readers are chosen by `Kind`."""

    def __init__(self, text: str, filename: str):
        self.filename = filename
        self.tokens = tokenize(text, filename)
        self.pos = 0
        self.module = Module()
        self.first_seen = {}   # ("type" | "entity", name) -> Token of its definition

    # --- token helpers

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.peek()
        self.pos += tok.kind != "eof"
        return tok

    def error(self, tok: Token, message: str):
        return IRSyntaxError(self.filename, tok.line, tok.column, message)

    def at(self, kind: str, text: str | None = None, ahead: int = 0) -> bool:
        tok = self.peek(ahead)
        return tok.kind == kind and (text is None or tok.text == text)

    def expect(self, kind: str, text: str | None = None, what: str | None = None) -> Token:
        """Consume a token of `kind` (and spelling `text`), or fail naming what was wanted."""
        if not self.at(kind, text):
            wanted = what or (repr(text) if text else _KIND_WORDS[kind])
            raise self.error(self.peek(), f"expected {wanted}, found {self.peek().describe()}")
        return self.advance()

    def punct(self, text: str) -> Token:
        return self.expect("punct", text)

    # --- top level

    def module_(self) -> Module:
        while not self.at("eof"):
            tok = self.peek()
            reader = _DIRECTIVES.get(tok.text) if tok.kind == "directive" else None
            if reader is None:
                what = "unknown directive" if tok.kind == "directive" else "expected a definition"
                raise self.error(tok, f"{what} {tok.describe()} (expected one of "
                                      f"{', '.join(_DIRECTIVES)})")
            self.advance()
            reader(self)
        return self.module

    def define(self, space: str, tok: Token) -> str:
        """Claim a top-level name, rejecting a second definition."""
        first = self.first_seen.get((space, tok.value))
        if first is not None:
            raise self.error(tok, f"duplicate definition of {tok.text} "
                                  f"(first defined at line {first.line}, column {first.column})")
        self.first_seen[(space, tok.value)] = tok
        return tok.value

    def type_ref(self, want: str = "type"):
        """A `@name` of a defined type (`want="type"`) or signature (`want="sig"`)."""
        tok = self.expect("gname", what=f"a {_WANT_WORDS[want]} name (@name)")
        ty = self.module.types.get(tok.value)
        if ty is None:
            raise self.error(tok, f"unknown {_WANT_WORDS[want]} {tok.text}")
        if (want == "sig") != isinstance(ty, FuncSig):
            raise self.error(tok, f"{tok.text} is a {_WANT_WORDS['type' if want == 'sig' else 'sig']}"
                                  f", not a {_WANT_WORDS[want]}")
        return ty

    def bracketed_ref(self, want: str = "type"):
        """`<@name>`."""
        self.punct("<")
        ty = self.type_ref(want)
        self.punct(">")
        return ty

    def typedef(self):
        name_tok = self.expect("gname", what="a type name (@name)")
        self.punct("=")
        tok = self.expect("word", what="a type constructor")
        if tok.text == "int":
            self.punct("<")
            bits_tok = self.expect("int", what="a bit width")
            self.punct(">")
            try:
                ty = IntType(bits_tok.value)
            except ValueError as e:
                raise self.error(bits_tok, str(e)) from None
        elif tok.text == "funcref":
            ty = FuncRefType(self.bracketed_ref("sig"))
        elif tok.text in _SIMPLE_TYPES:
            ty = _SIMPLE_TYPES[tok.text]
        else:
            raise self.error(tok, f"unknown type constructor {tok.describe()}")
        self.module.types[self.define("type", name_tok)] = ty

    def funcsig(self):
        name_tok = self.expect("gname", what="a signature name (@name)")
        self.punct("=")
        params = self.type_list()
        self.punct("->")
        results_tok = self.peek()
        results = self.type_list()
        if len(results) > 1:
            raise self.error(results_tok, "a signature has at most one result")
        self.module.types[self.define("type", name_tok)] = FuncSig(params, results)

    def type_list(self) -> tuple:
        """`(@T ...)`."""
        self.punct("(")
        types = []
        while not self.at("punct", ")"):
            types.append(self.type_ref())
        self.punct(")")
        return tuple(types)

    def const(self):
        name_tok = self.expect("gname", what="a constant name (@name)")
        ty = self.bracketed_ref()
        self.punct("=")
        tok = self.peek()
        if tok.kind not in ("int", "float"):
            raise self.error(tok, f"expected a literal, found {tok.describe()}")
        self.advance()
        self.module.consts[self.define("entity", name_tok)] = ConstDef(name_tok.value, ty, tok.value)

    def global_(self):
        name_tok = self.expect("gname", what="a global name (@name)")
        ty = self.bracketed_ref()
        self.module.globals[self.define("entity", name_tok)] = GlobalDef(name_tok.value, ty)

    def extern(self):
        name_tok = self.expect("gname", what="an extern name (@name)")
        sig = self.bracketed_ref("sig")
        pure = self.at("word", "PURE")
        if pure:
            self.advance()
        ic = ""
        if self.at("word", "IC"):
            self.advance()
            ic = self.expect("word", what="an inline-cache kind").value
        self.module.externs[self.define("entity", name_tok)] = ExternDef(name_tok.value, sig,
                                                                         pure, ic)

    def funcdecl(self):
        name_tok = self.expect("gname", what="a function name (@name)")
        sig = self.bracketed_ref("sig")
        self.module.functions[self.define("entity", name_tok)] = Function(name_tok.value, sig)

    def funcdef(self):
        name_tok = self.expect("gname", what="a function name (@name)")
        self.expect("word", "VERSION")
        version_tok = self.expect("lname", what="a version name (%name)")
        sig_tok = self.peek(1)
        sig = self.bracketed_ref("sig")
        unsafe = self.at("word", "UNSAFE")
        if unsafe:
            self.advance()
        func = self.module.functions.get(name_tok.value)
        if func is None:
            func = Function(name_tok.value, sig)
            self.module.functions[self.define("entity", name_tok)] = func
        elif func.sig != sig:
            raise self.error(sig_tok, f"{name_tok.text} was declared with another signature")
        if any(v.name == version_tok.value for v in func.versions):
            raise self.error(version_tok, f"duplicate definition of {name_tok.text} "
                                          f"VERSION {version_tok.text}")
        version = FunctionVersion(name_tok.value, version_tok.value, unsafe=unsafe)
        self.module.positions[(name_tok.value, version_tok.value)] = (name_tok.line,
                                                                      name_tok.column)
        open_tok = self.punct("{")
        while not self.at("punct", "}"):
            if self.at("eof") or self.at("directive"):
                raise self.error(self.peek(), f"missing '}}' closing {name_tok.text} VERSION "
                                              f"{version_tok.text} (opened at line "
                                              f"{open_tok.line}, column {open_tok.column})")
            if self.at("lname") and self.at("punct", "(", ahead=1):
                version.blocks.append(self.block_header())
            elif self.at("lname") and self.at("punct", ":", ahead=1):
                raise self.error(self.peek(), f"a block label needs a parameter list: "
                                              f"{self.peek().text}():")
            elif not version.blocks:
                raise self.error(self.peek(), f"expected a block label (%label(...):), "
                                              f"found {self.peek().describe()}")
            else:
                block = version.blocks[-1]
                start = self.peek()
                self.module.positions[(name_tok.value, version_tok.value, block.label,
                                       len(block.instrs))] = (start.line, start.column)
                block.instrs.append(self.instr())
        self.advance()
        func.versions.append(version)

    # --- function bodies

    def block_header(self) -> Block:
        label = self.advance().value
        self.punct("(")
        params = []
        while not self.at("punct", ")"):
            ty = self.bracketed_ref()
            params.append((self.expect("lname", what="a parameter name (%name)").value, ty))
        self.punct(")")
        self.punct(":")
        return Block(label, params)

    def instr(self) -> Instr:
        start = self.peek()
        results = ()
        if self.at("lname") and self.at("punct", "=", ahead=1):
            results = (self.advance().value,)
            self.advance()
        elif self.at("punct", "("):
            self.advance()
            names = []
            while not self.at("punct", ")"):
                names.append(self.expect("lname", what="a result name (%name)").value)
            self.punct(")")
            self.punct("=")
            results = tuple(names)
        name = None
        if self.at("punct", "["):
            self.advance()
            name = self.expect("lname", what="an instruction name (%name)").value
            self.punct("]")
        op_tok = self.expect("word", what="an instruction")
        opdef = OPS.get(op_tok.text)
        if opdef is None:
            raise self.error(op_tok, f"unknown instruction {op_tok.text!r}")
        operands = []
        for spec in opdef.syntax:
            if spec.optional and not _STARTS[spec.kind](self):
                operands.append(None)
            else:
                operands.append(_READERS[spec.kind](self, spec))
        line = None
        if self.at("punct", "!"):
            self.advance()
            line = self.expect("int", what="a source line number").value
        try:
            return Instr(opdef.name, tuple(operands), results, name, line)
        except ValueError as e:
            raise self.error(start, str(e)) from None

    # --- operand readers, one per Kind

    def value(self, spec=None):
        tok = self.peek()
        if tok.kind in _VALUE_TOKENS:
            self.advance()
            return _VALUE_TOKENS[tok.kind](tok.value)
        raise self.error(tok, f"expected a value (%var, @name or literal) for "
                              f"{_spec_word(spec)}, found {tok.describe()}")

    def values(self, spec=None) -> tuple:
        """`(v ...)`."""
        self.expect("punct", "(", what=f"'(' starting {_spec_word(spec)}")
        out = []
        while not self.at("punct", ")"):
            out.append(self.value(spec))
        self.advance()
        return tuple(out)

    def dest(self, spec=None) -> Dest:
        label = self.expect("lname", what=f"a branch target (%label(...)) for {_spec_word(spec)}")
        return Dest(label.value, self.values(spec))

    def cases(self, spec) -> tuple:
        self.expect("punct", "{", what=f"'{{' starting {_spec_word(spec)}")
        out = []
        while not self.at("punct", "}"):
            key = self.expect("int", what="an integer case key or '}'").value
            self.punct(":")
            out.append((key, self.dest(spec)))
        self.advance()
        return tuple(out)

    def state(self, spec=None) -> FrameState:
        """`[@func %version %block INDEX (%var=v ...) PARENT [...]]`, read in a loop: a chain
        of parents may be thousands deep."""
        frames = []
        while True:
            self.expect("punct", "[", what=f"'[' starting {_spec_word(spec)}")
            frames.append(self.state_frame(spec))
            if not self.at("word", "PARENT"):
                break
            self.advance()
        for _ in frames:
            self.punct("]")
        state = None
        for func, version, block, index, values in reversed(frames):
            state = FrameState(func, version, block, index, values, state)
        return state

    def state_frame(self, spec) -> tuple:
        """One frame of a state, after its '[': (func, version, block, index, values)."""
        func = self.expect("gname", what="a function name (@name)").value
        version = self.expect("lname", what="a version name (%name)").value
        block = self.expect("lname", what="a block label (%label)").value
        index = self.expect("int", what="an instruction index").value
        self.punct("(")
        values = []
        while not self.at("punct", ")"):
            var = self.expect("lname", what="a live variable (%name=value) or ')'").value
            self.punct("=")
            values.append((var, self.value(spec)))
        self.advance()
        return func, version, block, index, tuple(values)

    def keepalive(self, spec) -> tuple:
        if not self.at("word", "KEEPALIVE"):
            return ()
        self.advance()
        return self.values(spec)

    def types2(self, spec) -> tuple:
        self.punct("<")
        pair = (self.type_ref(), self.type_ref())
        self.punct(">")
        return pair

    def word(self, spec):
        self.expect("word", spec.name.upper())
        return None


_KIND_WORDS = {"gname": "a @name", "lname": "a %name", "string": "a string", "float": "a float",
               "int": "an integer", "directive": "a directive", "word": "a keyword",
               "punct": "punctuation", "eof": "end of file"}
_WANT_WORDS = {"type": "type", "sig": "signature"}
_SIMPLE_TYPES = {"double": DOUBLE, "ref": REF, "ptr": PTR, "tagref64": TAGREF64, "void": VOID}
_VALUE_TOKENS = {"lname": Var, "gname": Sym, "int": Imm, "float": Imm}
_DIRECTIVES = {".typedef": _Parser.typedef, ".funcsig": _Parser.funcsig, ".const": _Parser.const,
               ".global": _Parser.global_, ".extern": _Parser.extern,
               ".funcdecl": _Parser.funcdecl, ".funcdef": _Parser.funcdef}


def _spec_word(spec) -> str:
    return "the operand" if spec is None else f"operand {spec.name!r}"


_READERS = {
    Kind.TYPE: lambda p, s: p.bracketed_ref("type"),
    Kind.TYPES2: _Parser.types2,
    Kind.SIG: lambda p, s: p.bracketed_ref("sig"),
    Kind.VALUE: _Parser.value,
    Kind.VALUES: _Parser.values,
    Kind.DEST: _Parser.dest,
    Kind.CASES: _Parser.cases,
    Kind.EXTERN: lambda p, s: p.expect("gname", what="an extern name (@name)").value,
    Kind.INT: lambda p, s: p.expect("int", what=f"an integer for {_spec_word(s)}").value,
    Kind.REASON: lambda p, s: p.expect("string", what=f"a string for {_spec_word(s)}").value,
    Kind.STATE: _Parser.state,
    Kind.KEEPALIVE: _Parser.keepalive,
    Kind.WORD: _Parser.word,
}

# Whether the next tokens begin an operand of this kind (used for optional positions).
_STARTS = {
    Kind.TYPE: lambda p: p.at("punct", "<"),
    Kind.TYPES2: lambda p: p.at("punct", "<"),
    Kind.SIG: lambda p: p.at("punct", "<"),
    Kind.VALUE: lambda p: p.peek().kind in _VALUE_TOKENS,
    Kind.VALUES: lambda p: p.at("punct", "("),
    Kind.DEST: lambda p: p.at("lname") and p.at("punct", "(", ahead=1),
    Kind.CASES: lambda p: p.at("punct", "{"),
    Kind.EXTERN: lambda p: p.at("gname"),
    Kind.INT: lambda p: p.at("int"),
    Kind.REASON: lambda p: p.at("string"),
    Kind.STATE: lambda p: p.at("punct", "[") and p.at("gname", ahead=1),
    Kind.KEEPALIVE: lambda p: p.at("word", "KEEPALIVE"),
    Kind.WORD: lambda p: p.at("word"),
}

assert set(_READERS) == set(Kind) == set(_STARTS), "every operand Kind needs a reader"


# ---------------------------------------------------------------------------------- printer

def print_module(module: Module) -> str:
    """The text of a module; raises ValueError if a type used has no name in module.types."""
    p = _Printer(module)
    sections = [
        [p.type_definition(name) for name in _type_order(module)],
        [f".const {p.gname(c.name)} <{p.type(c.type)}> = {p.literal(c.value)}"
         for c in module.consts.values()],
        [f".global {p.gname(g.name)} <{p.type(g.type)}>" for g in module.globals.values()],
        [f".extern {p.gname(e.name)} <{p.type(e.sig)}>" + (" PURE" if e.pure else "")
         + (f" IC {e.ic}" if e.ic else "")
         for e in module.externs.values()],
    ]
    for func in module.functions.values():
        if not func.versions:
            sections.append([f".funcdecl {p.gname(func.name)} <{p.type(func.sig)}>"])
        for version in func.versions:
            sections.append(p.version(func, version))
    return "\n\n".join("\n".join(s) for s in sections if s) + "\n"


def print_version(module: Module, version: FunctionVersion) -> str:
    """The `.funcdef` text of one version (for dumps)."""
    return "\n".join(_Printer(module).version(module.functions[version.func], version)) + "\n"


def print_instr(module: Module, instr: Instr) -> str:
    """The text of one instruction, without indentation (for dumps and error messages)."""
    return _Printer(module).instr(instr)


def _type_order(module: Module) -> list:
    """Type names in module order, except that each comes after the types it mentions."""
    order, placed = [], set()

    def place(name):
        if name in placed:
            return
        placed.add(name)
        for inner in _inner_types(module.types[name]):
            place(_name_of(module, inner))
        order.append(name)

    for name in module.types:
        place(name)
    return order


def _inner_types(ty) -> tuple:
    """The types a type or signature definition names."""
    if isinstance(ty, FuncSig):
        return tuple(ty.params) + tuple(ty.results)
    if isinstance(ty, FuncRefType):
        return (ty.sig,)
    return ()


def _name_of(module: Module, ty) -> str:
    try:
        return module.type_name(ty)
    except KeyError as e:
        raise ValueError(f"cannot print: {e.args[0]}") from None


class _Printer:
    """Formats the parts of one module; operand writers are chosen by `Kind`."""

    def __init__(self, module: Module):
        self.module = module

    def type(self, ty) -> str:
        return "@" + _name_of(self.module, ty)

    def gname(self, name: str) -> str:
        return "@" + _checked_name(name)

    def lname(self, name: str) -> str:
        return "%" + _checked_name(name)

    def type_definition(self, name: str) -> str:
        ty = self.module.types[name]
        if isinstance(ty, FuncSig):
            params = " ".join(self.type(t) for t in ty.params)
            results = " ".join(self.type(t) for t in ty.results)
            return f".funcsig {self.gname(name)} = ({params}) -> ({results})"
        return f".typedef {self.gname(name)} = {self.type_constructor(ty)}"

    def type_constructor(self, ty) -> str:
        if isinstance(ty, FuncRefType):
            return f"funcref<{self.type(ty.sig)}>"
        if isinstance(ty, (IntType, DoubleType, RefType, PtrType, TagRef64Type, VoidType)):
            return ty.text()
        raise ValueError(f"cannot print: {ty!r} is not a type")

    def literal(self, value) -> str:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"cannot print literal {value!r}")
        if isinstance(value, float) and value != value:
            return "-nan" if math.copysign(1.0, value) < 0 else "nan"
        return repr(value) if isinstance(value, float) else str(value)

    def version(self, func: Function, version: FunctionVersion) -> list:
        unsafe = " UNSAFE" if version.unsafe else ""
        lines = [f".funcdef {self.gname(func.name)} VERSION {self.lname(version.name)} "
                 f"<{self.type(func.sig)}>{unsafe} {{"]
        for block in version.blocks:
            params = " ".join(f"<{self.type(ty)}> {self.lname(n)}" for n, ty in block.params)
            lines.append(f"  {self.lname(block.label)}({params}):")
            lines.extend("    " + self.instr(instr) for instr in block.instrs)
        lines.append("}")
        return lines

    def instr(self, instr: Instr) -> str:
        parts = []
        if len(instr.results) == 1:
            parts.append(f"{self.lname(instr.results[0])} =")
        elif instr.results:
            parts.append(f"({' '.join(self.lname(r) for r in instr.results)}) =")
        if instr.name is not None:
            parts.append(f"[{self.lname(instr.name)}]")
        parts.append(instr.op)
        for spec, operand in zip(instr.opdef.syntax, instr.operands):
            if (spec.optional and operand is None) or (spec.kind is Kind.KEEPALIVE and not operand):
                continue
            parts.append(_WRITERS[spec.kind](self, spec, operand))
        if instr.line is not None:
            parts.append(f"!{instr.line}")
        return " ".join(parts)

    # --- operand writers, one per Kind

    def value(self, operand) -> str:
        if isinstance(operand, Var):
            return self.lname(operand.name)
        if isinstance(operand, Sym):
            return self.gname(operand.name)
        return self.literal(operand.value)

    def values(self, operands) -> str:
        return "(" + " ".join(self.value(v) for v in operands) + ")"

    def dest(self, dest: Dest) -> str:
        return self.lname(dest.label) + self.values(dest.args)

    def state(self, state: FrameState) -> str:
        frames = []
        for frame in state.chain():
            values = " ".join(f"{self.lname(n)}={self.value(v)}" for n, v in frame.values)
            frames.append(f"[{self.gname(frame.func)} {self.lname(frame.version)} "
                          f"{self.lname(frame.block)} {frame.index} ({values})")
        return " PARENT ".join(frames) + "]" * len(frames)


def _checked_name(name: str) -> str:
    """A name that the parser reads back as itself."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"cannot print name {name!r}: names match {NAME.pattern}")
    return name


def _quote(text: str) -> str:
    return '"' + "".join(_ESCAPE_OF.get(c, c) for c in text) + '"'


_WRITERS = {
    Kind.TYPE: lambda p, s, o: f"<{p.type(o)}>",
    Kind.TYPES2: lambda p, s, o: f"<{p.type(o[0])} {p.type(o[1])}>",
    Kind.SIG: lambda p, s, o: f"<{p.type(o)}>",
    Kind.VALUE: lambda p, s, o: p.value(o),
    Kind.VALUES: lambda p, s, o: p.values(o),
    Kind.DEST: lambda p, s, o: p.dest(o),
    Kind.CASES: lambda p, s, o: "{ " + "".join(f"{k}: {p.dest(d)} " for k, d in o) + "}",
    Kind.EXTERN: lambda p, s, o: p.gname(o),
    Kind.INT: lambda p, s, o: str(int(o)),
    Kind.REASON: lambda p, s, o: _quote(o),
    Kind.STATE: lambda p, s, o: p.state(o),
    Kind.KEEPALIVE: lambda p, s, o: "KEEPALIVE" + p.values(o),
    Kind.WORD: lambda p, s, o: s.name.upper(),
}

assert set(_WRITERS) == set(Kind), "every operand Kind needs a writer"

__all__ = ["IRSyntaxError", "parse_module", "print_module", "print_version", "print_instr",
           "tokenize", "Token", "NAME"]
