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

from dataclasses import dataclass
from enum import Enum, auto


class TokenType(Enum):
    """Kinds of Lox tokens, in clox's order."""

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


@dataclass(slots=True, frozen=True)
class Token:
    """One token: its kind, its source text (the message for ERROR tokens) and its line."""

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


def is_alpha(char: str) -> bool:
    """Whether `char` may start an identifier (ASCII letters and '_', as clox)."""
    return "a" <= char <= "z" or "A" <= char <= "Z" or char == "_"


def is_digit(char: str) -> bool:
    """Whether `char` is an ASCII decimal digit (clox rejects other Unicode digits)."""
    return "0" <= char <= "9"


@dataclass(slots=True)
class Scanner:
    """Cursor over Lox source producing tokens one at a time."""

    source: str
    start: int = 0
    current: int = 0
    line: int = 1

    def scan_token(self) -> Token:
        """Scan and return the next token (EOF forever once the source is exhausted)."""
        self.skip_whitespace()
        self.start = self.current
        if self.at_end():
            return self.make_token(TokenType.EOF)
        char = self.advance()
        if is_alpha(char):
            return self.identifier()
        if is_digit(char):
            return self.number()
        if char == '"':
            return self.string()
        if char in WITH_EQUAL and self.match("="):
            return self.make_token(WITH_EQUAL[char])
        if char in SINGLE_CHAR:
            return self.make_token(SINGLE_CHAR[char])
        return self.error_token("Unexpected character.")

    def at_end(self) -> bool:
        """Whether every character has been consumed."""
        return self.current >= len(self.source)

    def advance(self) -> str:
        """Consume and return the current character."""
        self.current += 1
        return self.source[self.current - 1]

    def peek(self) -> str:
        """The current character, or '' at the end."""
        return self.source[self.current] if not self.at_end() else ""

    def peek_next(self) -> str:
        """The character after the current one, or '' past the end."""
        return self.source[self.current + 1] if self.current + 1 < len(self.source) else ""

    def match(self, expected: str) -> bool:
        """Consume the current character if it is `expected`."""
        if self.peek() != expected:
            return False
        self.current += 1
        return True

    def make_token(self, kind: TokenType) -> Token:
        """A token of `kind` spanning start..current, on the current line."""
        return Token(kind, self.source[self.start : self.current], self.line)

    def error_token(self, message: str) -> Token:
        """An ERROR token carrying `message` as its lexeme."""
        return Token(TokenType.ERROR, message, self.line)

    def skip_whitespace(self) -> None:
        """Skip blanks, newlines (counting lines) and `//` comments."""
        while True:
            char = self.peek()
            if char in (" ", "\r", "\t"):
                self.current += 1
            elif char == "\n":
                self.line += 1
                self.current += 1
            elif char == "/" and self.peek_next() == "/":
                self.skip_line_comment()
            else:
                return

    def skip_line_comment(self) -> None:
        """Skip to (not past) the end of the line, so the newline is still counted."""
        while self.peek() not in ("\n", ""):
            self.current += 1

    def identifier(self) -> Token:
        """Scan the rest of an identifier or keyword."""
        while is_alpha(self.peek()) or is_digit(self.peek()):
            self.current += 1
        text = self.source[self.start : self.current]
        return self.make_token(KEYWORDS.get(text, TokenType.IDENTIFIER))

    def number(self) -> Token:
        """Scan the rest of a number: digits, then optionally '.' and at least one digit."""
        self.skip_digits()
        if self.peek() == "." and is_digit(self.peek_next()):
            self.current += 1
            self.skip_digits()
        return self.make_token(TokenType.NUMBER)

    def skip_digits(self) -> None:
        """Consume a run of digits."""
        while is_digit(self.peek()):
            self.current += 1

    def string(self) -> Token:
        """Scan the rest of a string literal; strings may span lines and have no escapes."""
        while self.peek() not in ('"', ""):
            if self.peek() == "\n":
                self.line += 1
            self.current += 1
        if self.at_end():
            return self.error_token("Unterminated string.")
        self.current += 1
        return self.make_token(TokenType.STRING)


def scan_all(source: str) -> list[Token]:
    """Every token of `source` up to and including EOF (for tests and debugging)."""
    scanner = Scanner(source)
    tokens = [scanner.scan_token()]
    while tokens[-1].type is not TokenType.EOF:
        tokens.append(scanner.scan_token())
    return tokens
