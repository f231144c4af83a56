"""Lox scanner: turns source text into tokens on demand, exactly as clox's scanner.c does.

The parser pulls one token at a time (`Scanner.scan_token`), so scanner errors interleave
with parse errors in source order, as in clox.  A lexical error is not an exception: it is a
token of type ERROR whose lexeme is the message ("Unexpected character.", "Unterminated
string."), which the parser reports as `[line N] Error: <message>`.

Details kept from clox because they decide reported line numbers and error text:
- a token's line is the scanner's line when the token *ends*, so a string spanning lines
  carries the line of its closing quote, and EOF carries the last line (after a final newline);
- letters are ASCII letters and `_` only, digits are ASCII digits only;
- a number is digits, optionally `.` and more digits: `123.` is NUMBER then DOT.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, auto
from typing import NamedTuple


class TokenType(Enum):
    """Kinds of Lox tokens, in clox's order.

    Hashed by identity (members are singletons): Enum's own `__hash__` is a Python
    function, and the parser looks token types up in its tables several times a token."""

    __hash__ = object.__hash__

    LEFT_PAREN = auto()
    RIGHT_PAREN = auto()
    LEFT_BRACE = auto()
    RIGHT_BRACE = auto()
    COMMA = auto()
    DOT = auto()
    MINUS = auto()
    PLUS = auto()
    SEMICOLON = auto()
    SLASH = auto()
    STAR = auto()
    BANG = auto()
    BANG_EQUAL = auto()
    EQUAL = auto()
    EQUAL_EQUAL = auto()
    GREATER = auto()
    GREATER_EQUAL = auto()
    LESS = auto()
    LESS_EQUAL = auto()
    IDENTIFIER = auto()
    STRING = auto()
    NUMBER = auto()
    AND = auto()
    CLASS = auto()
    ELSE = auto()
    FALSE = auto()
    FOR = auto()
    FUN = auto()
    IF = auto()
    NIL = auto()
    OR = auto()
    PRINT = auto()
    RETURN = auto()
    SUPER = auto()
    THIS = auto()
    TRUE = auto()
    VAR = auto()
    WHILE = auto()
    ERROR = auto()
    EOF = auto()


class Token(NamedTuple):
    """One token: its kind, its source text (the message for ERROR tokens) and its line.

    A named tuple, the cheapest immutable record to make: a big source has millions."""

    type: TokenType
    lexeme: str
    line: int


KEYWORDS: dict[str, TokenType] = {
    "and": TokenType.AND,
    "class": TokenType.CLASS,
    "else": TokenType.ELSE,
    "false": TokenType.FALSE,
    "for": TokenType.FOR,
    "fun": TokenType.FUN,
    "if": TokenType.IF,
    "nil": TokenType.NIL,
    "or": TokenType.OR,
    "print": TokenType.PRINT,
    "return": TokenType.RETURN,
    "super": TokenType.SUPER,
    "this": TokenType.THIS,
    "true": TokenType.TRUE,
    "var": TokenType.VAR,
    "while": TokenType.WHILE,
}

SINGLE_CHAR: dict[str, TokenType] = {
    "(": TokenType.LEFT_PAREN,
    ")": TokenType.RIGHT_PAREN,
    "{": TokenType.LEFT_BRACE,
    "}": TokenType.RIGHT_BRACE,
    ";": TokenType.SEMICOLON,
    ",": TokenType.COMMA,
    ".": TokenType.DOT,
    "-": TokenType.MINUS,
    "+": TokenType.PLUS,
    "/": TokenType.SLASH,
    "*": TokenType.STAR,
    "!": TokenType.BANG,
    "=": TokenType.EQUAL,
    "<": TokenType.LESS,
    ">": TokenType.GREATER,
}

# One-character tokens that become a different token when followed by '='.
WITH_EQUAL: dict[str, TokenType] = {
    "!": TokenType.BANG_EQUAL,
    "=": TokenType.EQUAL_EQUAL,
    "<": TokenType.LESS_EQUAL,
    ">": TokenType.GREATER_EQUAL,
}


# Whitespace and `//` comments (clox's skipWhitespace), then one token (clox's scanToken),
# in one match.  One group per kind of lexeme, so `match.lastindex` says which matched
# (None: nothing did -- the end of the source, or a character no token starts with).
# Letters are ASCII letters and '_', digits ASCII digits; a number's '.' must be followed
# by a digit (`123.` is NUMBER then DOT); a string's closing quote is missing only when it
# runs to the end of the source.
LEXEME = re.compile(r"""
    (?:[ \t\r\n]+|//[^\n]*)*
    (?:([A-Za-z_][A-Za-z_0-9]*)
     | ([0-9]+(?:\.[0-9]+)?)
     | ("[^"]*"?)
     | (!=|==|<=|>=|[(){};,.+\-/*!=<>]))?
""", re.VERBOSE)
WORD, NUMBER, STRING, OPERATOR = 1, 2, 3, 4

OPERATORS: dict[str, TokenType] = {**SINGLE_CHAR, **{c + "=": t for c, t in WITH_EQUAL.items()}}


def _token(fields: tuple) -> Token:
    """A Token from (type, lexeme, line) without NamedTuple's Python-level __new__."""
    return tuple.__new__(Token, fields)


@dataclass(slots=True)
class Scanner:
    """Cursor over Lox source producing tokens one at a time.

    Each token is one match of LEXEME, so scanning costs a few microseconds a token
    however long the source is."""

    source: str
    start: int = 0
    current: int = 0
    line: int = 1

    def scan_token(self) -> Token:
        """Scan and return the next token (EOF forever once the source is exhausted)."""
        source, current = self.source, self.current
        match = LEXEME.match(source, current)
        end = match.end()
        group = match.lastindex
        text = match.group(group) if group else ""
        start = end - len(text)
        if start != current:
            self.line += source.count("\n", current, start)
        self.start, self.current = start, end
        if group == WORD:
            return _token((KEYWORDS.get(text, TokenType.IDENTIFIER), text, self.line))
        if group == NUMBER:
            return _token((TokenType.NUMBER, text, self.line))
        if group == OPERATOR:
            return _token((OPERATORS[text], text, self.line))
        if group == STRING:
            self.line += text.count("\n")
            if len(text) < 2 or text[-1] != '"':
                return _token((TokenType.ERROR, "Unterminated string.", self.line))
            return _token((TokenType.STRING, text, self.line))
        if end >= len(source):
            return _token((TokenType.EOF, "", self.line))
        self.current = end + 1
        return _token((TokenType.ERROR, "Unexpected character.", self.line))


def scan_all(source: str) -> list[Token]:
    """Every token of `source` up to and including EOF (for tests and debugging)."""
    scanner = Scanner(source)
    tokens = [scanner.scan_token()]
    while tokens[-1].type is not TokenType.EOF:
        tokens.append(scanner.scan_token())
    return tokens
