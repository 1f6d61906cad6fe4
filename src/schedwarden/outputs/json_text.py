"""JSON text of plain values (`serialize.plain`), as the standard library writes it.

`indented_chunks` gives `json.dump(value, stream, indent=2, ensure_ascii=False)`; `compact`
exactly `json.dumps(value, ensure_ascii=False, separators=(",", ":"))`. The standard library
encodes an indented document in pure Python, one generator step per token: here each container
is written by orjson (Rust; its 2-space indentation is the standard library's, shifted to the
container's depth), and the text of a part shared between jobs (`SharedParts`) is made once per
indentation level. orjson writes the same text but for floats: the same numbers, in its own form
(`1e-7` and `0.00006103515625` for the standard library's `1e-07` and `6.103515625e-05`), and
null for NaN and infinities, as this module then writes them too (the standard library writes
`NaN` and `Infinity`, which are not JSON). What orjson does not take (a non-string key,
a lone surrogate, an integer past 64 bits, a subclass of str) is written
by this module's own encoder, as the standard library writes it (but NaN and infinities).
A record of the model (a dataclass) in the value is written as its `plain` form would be, by
orjson straight from the record (`serialize.native_default`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Container, Iterator
from typing import Any, TextIO

import orjson

from .serialize import field_names, native_default, plain

_encode_str: Callable[[str], str] = json.encoder.encode_basestring
_INDENT = "  "
_INT = int.__repr__
_FLOAT = float.__repr__
_INFINITY = float("inf")
_MAX_KEYS = 4096  # key texts remembered (field names; keys from evidence may be many)
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
# A value of a type json.dump does not take, or that orjson takes but does not write as json.dump
# does, raises TypeError in orjson: written by `_python_container`
_ORJSON = (
    orjson.OPT_INDENT_2
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)
# A record (a dataclass of the model) written as its `plain` form is (`serialize.native_default`)
_RECORD = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_RECORD_INDENTED = _RECORD | orjson.OPT_INDENT_2


class Later:
    """A value of a document made when the writer comes to it, once all before it is written
    (a hunt's findings, which children may still be making while its events are written)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def compact(value: Any) -> str:
    """One-line JSON (the C encoder of the standard library; plain values hold no cycles)."""
    return _COMPACT.encode(value)


def compact_record(record: Any, first: dict[str, Any]) -> str:
    """`compact({**first, **plain(record)})` (a line of a JSONL output: `first` names its type),
    made by orjson straight from the record (`serialize.native_default`): the same text but for
    floats, written in orjson's form (the same numbers) and null for NaN and infinities, as the
    indented writing has them. A record orjson refuses (a lone surrogate...), or with a field of
    a name in `first`, is written by `compact`."""
    cls: type = type(record)
    if dataclasses.is_dataclass(cls) and not first.keys() & field_names(cls):
        try:
            text: str = orjson.dumps(record, default=native_default, option=_RECORD).decode()
        except TypeError:
            pass
        else:
            head = compact(first)[:-1]
            return head + "}" if text == "{}" else head + "," + text[1:]
    return compact({**first, **plain(record)})


def indented_chunks(
    value: Any, shared: Container[int] = frozenset(), *, stream_depth: int = 2
) -> Iterator[str]:
    """`json.dump(value, indent=2, ensure_ascii=False)` in pieces: containers less than
    `stream_depth` levels deep are given item by item (a report's jobs one at a time), deeper
    ones whole. A container whose id is in `shared` is the same object, unchanged, at every use
    (`SharedParts.ids`), so its text is made once for each indentation level."""
    yield from _Indented(shared).chunks(value, 0, stream_depth)


def dump_indented(value: Any, stream: TextIO, shared: Container[int] = frozenset()) -> None:
    """What `json.dump(value, stream, indent=2, ensure_ascii=False)` and a newline would write,
    a few hundred pieces at a time."""
    batch: list[str] = []
    for chunk in indented_chunks(value, shared):
        batch.append(chunk)
        if len(batch) >= 1024:
            stream.write("".join(batch))
            batch.clear()
    batch.append("\n")
    stream.write("".join(batch))


class _Indented:
    """One document's encoder: the text of shared containers and of keys, made once."""

    def __init__(self, shared: Container[int]) -> None:
        self._shared = shared
        self._texts: dict[tuple[int, int], str] = {}
        self._keys: dict[str, str] = {}  # str key → its text and ": "
        self._newlines = ["\n" + _INDENT * level for level in range(16)]

    def _newline(self, level: int) -> str:
        while level >= len(self._newlines):
            self._newlines.append("\n" + _INDENT * len(self._newlines))
        return self._newlines[level]

    def chunks(self, value: Any, level: int, stream_depth: int) -> Iterator[str]:
        if type(value) is Later:
            value = value.make()
        if isinstance(value, Iterator):
            yield from self._streamed(value, level, stream_depth)
        elif level >= stream_depth or not value or not isinstance(value, list | tuple | dict):
            yield self.text(value, level)
        elif isinstance(value, dict):
            inner = self._newline(level + 1)
            yield "{"
            separator = inner
            for key, item in value.items():
                yield separator + _key(key) + ": "
                yield from self.chunks(item, level + 1, stream_depth)
                separator = "," + inner
            yield self._newline(level) + "}"
        else:
            yield from self._streamed(iter(value), level, stream_depth)

    def _streamed(self, items: Iterator[Any], level: int, stream_depth: int) -> Iterator[str]:
        """A list, item by item as the iterator gives them."""
        inner = self._newline(level + 1)
        empty = True
        for item in items:
            yield "[" + inner if empty else "," + inner
            yield from self.chunks(item, level + 1, stream_depth)
            empty = False
        yield "[]" if empty else self._newline(level) + "]"

    def text(self, value: Any, level: int) -> str:
        """The text of `value` starting on a line indented `level` times (as json.dump does)."""
        cls = type(value)
        if cls is str:
            return _encode_str(value)
        if cls is dict or cls is list:
            if id(value) in self._shared:
                key = (id(value), level)  # the value is kept alive by its SharedParts
                text = self._texts.get(key)
                if text is None:
                    text = self._texts[key] = self._container(value, level)
                return text
            return self._container(value, level)
        return self._other(value, level)

    def _container(self, value: Any, level: int) -> str:
        if not value:
            return "{}" if isinstance(value, dict) else "[]"
        try:
            text: str = orjson.dumps(value, option=_ORJSON).decode()
        except TypeError:  # a value only the standard library writes: made below
            pass
        else:
            return text if not level else text.replace("\n", self._newline(level))
        return self._python_container(value, level)

    def _record(self, value: Any, level: int) -> str:
        """A record of the model, as its `plain` form is written."""
        try:
            text: str = orjson.dumps(
                value, default=native_default, option=_RECORD_INDENTED
            ).decode()
        except TypeError:  # orjson refused a value `plain` maps (a lone surrogate...)
            return self.text(plain(value), level)
        return text if not level else text.replace("\n", self._newline(level))

    def _python_container(self, value: Any, level: int) -> str:
        inner = self._newline(level + 1)
        text = self.text
        level += 1
        if isinstance(value, dict):
            keys = self._keys
            body = []
            for k, v in value.items():
                key = keys.get(k) if type(k) is str else None
                if key is None:
                    key = _key(k) + ": "
                    if type(k) is str and len(keys) < _MAX_KEYS:
                        keys[k] = key
                cls = type(v)
                if cls is str:
                    body.append(key + _encode_str(v))
                elif v is None:
                    body.append(key + "null")
                elif cls is bool:
                    body.append(key + ("true" if v else "false"))
                elif cls is int:
                    body.append(key + _INT(v))
                else:
                    body.append(key + text(v, level))
            return "{" + inner + ("," + inner).join(body) + self._newline(level - 1) + "}"
        items = [_encode_str(v) if type(v) is str else text(v, level) for v in value]
        return "[" + inner + ("," + inner).join(items) + self._newline(level - 1) + "]"

    def _other(self, value: Any, level: int) -> str:
        """Every other value, checked in the order the standard library checks it."""
        if type(value) is Later:
            return self.text(value.make(), level)
        if isinstance(value, str):
            return _encode_str(value)
        if value is None:
            return "null"
        if value is True:
            return "true"
        if value is False:
            return "false"
        if isinstance(value, int):
            return _INT(value)
        if isinstance(value, float):
            return _float(value)
        if isinstance(value, list | tuple | dict):
            return self._container(value, level)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self._record(value, level)
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _float(value: float) -> str:
    """A float as json.dump writes it, but NaN and infinities as null (as orjson does)."""
    if value != value or value in (_INFINITY, -_INFINITY):
        return "null"
    return _FLOAT(value)


def _key(key: Any) -> str:
    """A dict key as the standard library writes it (str, or a number, bool or None as text)."""
    if isinstance(key, str):
        return _encode_str(key)
    if isinstance(key, float):
        return _encode_str(json.dumps(key))  # as text: NaN, Infinity, -Infinity or the number
    if key is True:
        return '"true"'
    if key is False:
        return '"false"'
    if key is None:
        return '"null"'
    if isinstance(key, int):
        return _encode_str(_INT(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")
