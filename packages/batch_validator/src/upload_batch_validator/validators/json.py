"""JSON well-formedness (RFC 8259): exactly one JSON value in UTF-8, any size, in bounded memory.

The standard library parses whole documents only, so files above `FAST_PATH_BYTES` go through a small
incremental checker: the text is decoded chunk by chunk and scanned token by token against the JSON
grammar, keeping only the current chunk and a stack of open brackets (no recursion: any nesting depth
works). Smaller files that `json.loads` accepts are valid at C speed; the ones it refuses are scanned
too, so every error message comes from one place. Both accept exactly what `json.loads` accepts, minus
`NaN` and `Infinity`, which are not JSON. gzip-compressed input is read decompressed.
"""

from __future__ import annotations

import codecs
import json
import re
import sys
from collections.abc import Iterator, Sequence
from enum import Enum, auto

from upload_batch_validator.validators._cli import Content, InvalidFileError, run

CHUNK = 1024 * 1024
FAST_PATH_BYTES = 16 * 1024 * 1024  # json.loads is ~40x faster; its objects take ~20x the text at most
MAX_NUMBER_CHARS = 1024 * 1024  # bounds memory on a pathological "number" of endless digits
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STRING_BODY = re.compile(r'(?:[^"\\\x00-\x1f]+|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*')
_NUMBER_CHARS = re.compile(r"[0-9eE.+-]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LITERALS = {"t": "true", "f": "false", "n": "null"}
_CLOSERS = {"{": "}", "[": "]"}


def main(argv: Sequence[str] | None = None) -> int:
    """`upload-validator-json FILE [FILE ...]`."""
    return run("upload-validator-json", "Check that files are well-formed JSON.", check_json, argv)


class _Expect(Enum):
    VALUE = auto()
    VALUE_OR_CLOSE = auto()  # just after '['
    KEY_OR_CLOSE = auto()  # just after '{'
    KEY = auto()
    COLON = auto()
    COMMA_OR_CLOSE = auto()
    END = auto()


def check_json(stream: Content) -> None:
    """Raise `InvalidFileError` naming the line and column of the first problem."""
    head = stream.read(FAST_PATH_BYTES + 1)
    if len(head) <= FAST_PATH_BYTES:
        head += stream.read(1)  # b"" unless a short read left more: then the scan sees everything
        if len(head) <= FAST_PATH_BYTES and _parses(head):
            return
    check_json_streaming(stream, head=head)


def check_json_streaming(stream: Content, *, head: bytes = b"", chunk_size: int = CHUNK) -> None:
    """The incremental checker on `head` and then the rest of `stream`."""
    text = _Text(_decoded(head, stream, chunk_size))
    open_brackets: list[str] = []
    expect = _Expect.VALUE
    while True:
        char = text.next_significant()
        if expect is _Expect.END:
            if char:
                raise text.error("Extra data")
            return
        if not char:
            raise text.error("Unexpected end of file")
        if expect in _MAY_CLOSE and open_brackets and char == _CLOSERS[open_brackets[-1]]:
            text.pos += 1
            open_brackets.pop()
            expect = _after_value(open_brackets)
        elif expect in (_Expect.VALUE, _Expect.VALUE_OR_CLOSE):
            expect = _value(text, char, open_brackets)
        else:
            expect = _punctuation(text, char, expect, open_brackets)


_MAY_CLOSE = frozenset({_Expect.VALUE_OR_CLOSE, _Expect.KEY_OR_CLOSE, _Expect.COMMA_OR_CLOSE})


def _value(text: _Text, char: str, open_brackets: list[str]) -> _Expect:
    """Consume the start of a value (a whole one unless it is an object or array)."""
    if char in _CLOSERS:
        text.pos += 1
        open_brackets.append(char)
        return _Expect.KEY_OR_CLOSE if char == "{" else _Expect.VALUE_OR_CLOSE
    if char == '"':
        text.string()
    else:
        text.scalar(char)
    return _after_value(open_brackets)


def _punctuation(text: _Text, char: str, expect: _Expect, open_brackets: list[str]) -> _Expect:
    """Consume a key, a ':' or a ',' where the grammar wants one."""
    if expect is _Expect.COMMA_OR_CLOSE:
        if char != ",":
            raise text.error("Expecting ',' delimiter")
        text.pos += 1
        return _Expect.KEY if open_brackets[-1] == "{" else _Expect.VALUE
    if expect is _Expect.COLON:
        if char != ":":
            raise text.error("Expecting ':' delimiter")
        text.pos += 1
        return _Expect.VALUE
    if char != '"':  # KEY or KEY_OR_CLOSE
        raise text.error("Expecting property name enclosed in double quotes")
    text.string()
    return _Expect.COLON


def _after_value(open_brackets: list[str]) -> _Expect:
    return _Expect.COMMA_OR_CLOSE if open_brackets else _Expect.END


class _Text:
    """The decoded text, a chunk at a time, with the position of the next character to read."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks
        self.buffer = ""
        self.pos = 0
        self._line = 1  # line and column of buffer[0]
        self._column = 1

    def next_significant(self) -> str:
        """The next character that is not whitespace (not consumed), or "" at the end of the text."""
        while True:
            self.pos = _skip(_WHITESPACE, self.buffer, self.pos)
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._more():
                return ""

    def string(self) -> None:
        """Consume one string, its opening quote at `pos`."""
        start, unterminated = self.pos, None
        self.pos += 1
        while True:
            self.pos = _skip(_STRING_BODY, self.buffer, self.pos)
            if self.pos == len(self.buffer):
                # Where the string started, worked out once, before the chunk it started in is dropped.
                unterminated = unterminated or self.error("Unterminated string starting at", start)
                if not self._more():
                    raise unterminated
                continue
            char = self.buffer[self.pos]
            if char == '"':
                self.pos += 1
                return
            if char == "\\":
                if len(self.buffer) - self.pos < 6 and self._more():  # an escape cut by the chunk's end
                    continue
                raise self.error("Invalid \\escape")
            raise self.error("Invalid control character at")

    def scalar(self, char: str) -> None:
        """Consume a number, `true`, `false` or `null` at `pos`."""
        literal = _LITERALS.get(char)
        if literal is not None:
            while len(self.buffer) - self.pos < len(literal) and self._more():
                pass
            if not self.buffer.startswith(literal, self.pos):
                raise self.error("Expecting value")
            self.pos += len(literal)
            return
        while True:  # a number ends at the first character that cannot be part of one
            end = _skip(_NUMBER_CHARS, self.buffer, self.pos)
            if end - self.pos > MAX_NUMBER_CHARS:
                raise self.error("Number too long")
            if end < len(self.buffer) or not self._more():
                break
        if end == self.pos or not _NUMBER.fullmatch(self.buffer, self.pos, end):
            raise self.error("Expecting value" if end == self.pos else "Invalid number")
        self.pos = end

    def error(self, message: str, pos: int | None = None) -> InvalidFileError:
        """The error at `pos` (default: the current position), with its line and column from 1."""
        pos = self.pos if pos is None else pos
        newlines = self.buffer.count("\n", 0, pos)
        line = self._line + newlines
        column = pos - self.buffer.rfind("\n", 0, pos) if newlines else self._column + pos
        return InvalidFileError(f"line {line}, column {column}: {message}")

    def _more(self) -> bool:
        """Drop what was read, append the next chunk; False at the end of the text."""
        chunk = next(self._chunks, None)
        if chunk is None:
            return False
        newlines = self.buffer.count("\n", 0, self.pos)
        if newlines:
            self._line += newlines
            self._column = self.pos - self.buffer.rfind("\n", 0, self.pos)
        else:
            self._column += self.pos
        self.buffer = self.buffer[self.pos :] + chunk
        self.pos = 0
        return True


def _skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where a run of `pattern` (which may match nothing) starting at `pos` ends."""
    match = pattern.match(text, pos)
    return match.end() if match else pos


def _parses(data: bytes) -> bool:
    try:
        json.loads(data.decode("utf-8"), parse_constant=_not_json)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return False
    return True


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _decoded(head: bytes, stream: Content, chunk_size: int) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # bytes read before `data`
    while True:
        data, head = head or stream.read(chunk_size), b""
        pending = len(decoder.getstate()[0])  # the start of a character cut by the last chunk's end
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise InvalidFileError(f"not UTF-8 at byte {offset - pending + exc.start}") from None
        offset += len(data)
        if text:
            yield text
        if not data:
            return


if __name__ == "__main__":
    sys.exit(main())
