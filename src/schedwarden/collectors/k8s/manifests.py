"""Kubernetes manifests read as kubectl reads them, and safely: YAML or JSON → plain values with lines.

kubectl splits a file into documents at every line that starts with `---` followed by nothing but
blanks or a comment, and reads the file as a stream of JSON values when its first non-blank
character is `{`, as YAML otherwise. We do the same, so one broken document does not hide the
others; `kind: List` and `<Kind>List` objects (`kubectl get -o json|yaml`, API list responses whose
items carry no `kind`) are opened by `Loaded.resources`.

YAML is only *composed* into nodes by a `yaml.SafeLoader` subclass (or, when PyYAML has libyaml, by
the same composer over the C parser's events); values are then built by our own code from the
standard tags only: str, int, float, bool, null, map, seq, timestamp and binary (kept as text) and
`<<` merges. Any other tag (a `!!python/object/apply:…` tag, `!custom`) is refused and read as
null: nothing is ever constructed from a tag (reference/reliability.md K02). Aliases are counted
while composing, and the size of each document with every alias expanded is computed from the node
graph before any value is built, so an alias bomb costs what its text costs (K01). Nesting, nodes
and documents per file are capped too, which bounds the time a file can take. A key given twice in
one mapping or object is reported as AMBIGUOUS_KEY and the last value is kept, as the Kubernetes
decoders do (K03). Refused tags and repeated keys are reported only in documents that are
Kubernetes objects: other YAML in a folder (CloudFormation `!Ref`, Ansible `!vault`) is not ours.

Every mapping becomes an `Obj`: a dict that knows the lines where it starts and ends and, for YAML,
the line of each key, for evidence and for issues.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Protocol

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.error import Mark
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

MAX_DEPTH = 100  # nesting levels of one document, aliases expanded
MAX_ALIASES = 1000  # alias uses in one file
MAX_ALIAS_EXPANSION = 100_000  # nodes that expanding aliases may add to one document
MAX_NODES = 1_000_000  # YAML nodes in one file (about 10 MB of manifests): bounds the time
MAX_DOCUMENTS = 100_000  # documents in one file
MAX_LIST_NESTING = 4  # a List inside a List inside a List...

_TAG = "tag:yaml.org,2002:"
_VALUE_TAGS = frozenset(_TAG + t for t in ("int", "float", "bool", "null"))
_TEXT_TAGS = frozenset(_TAG + t for t in ("str", "timestamp", "binary"))
_MAP, _SEQ, _MERGE = _TAG + "map", _TAG + "seq", _TAG + "merge"
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|([{}])')
_YAML_API_VERSION = re.compile(r"^apiVersion[ \t]*:[ \t]*\S", re.MULTILINE)
_YAML_KIND = re.compile(r"^[ -]*kind[ \t]*:[ \t]*\S", re.MULTILINE)  # `kind: List` comes last


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with the file or one of its documents; `line` is 1-based."""

    code: str
    message: str
    line: int | None = None


class Obj(dict[str, object]):
    """A mapping of the manifest, with the lines (1-based) where it starts and ends."""

    __slots__ = ("end_line", "key_lines", "line")

    def __init__(self, line: int = 0, end_line: int | None = None) -> None:
        super().__init__()
        self.line = line
        self.end_line = line if end_line is None else end_line
        self.key_lines: dict[str, int] = {}

    def key_line(self, key: str) -> int:
        """The line of `key` when known (YAML), else the line where the mapping starts."""
        return self.key_lines.get(key, self.line)


@dataclass(frozen=True, slots=True)
class Resource:
    """One API object; `kind` and `api_version` may come from the List that holds it."""

    obj: Obj
    kind: str | None
    api_version: str | None


@dataclass(slots=True)
class Loaded:
    """What one file held: its documents, its problems and its text lines (for excerpts)."""

    documents: list[object] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    format: str = "yaml"

    def resources(self) -> Iterator[Resource]:
        for document in self.documents:
            yield from _resources(document, None, None, 0)

    def excerpt(self, first: int, last: int) -> str:
        return "\n".join(self.lines[max(first, 1) - 1 : max(last, first)])


def _resources(
    value: object, kind: str | None, api_version: str | None, depth: int
) -> Iterator[Resource]:
    if isinstance(value, list) and depth == 0:  # a bare array of objects (`jq .items`)
        for item in value:
            yield from _resources(item, None, None, depth + 1)
        return
    if not isinstance(value, Obj):
        return
    own_kind, own_version = value.get("kind"), value.get("apiVersion")
    kind = own_kind if isinstance(own_kind, str) else kind
    api_version = own_version if isinstance(own_version, str) else api_version
    items = value.get("items")
    if kind and kind.endswith("List") and isinstance(items, list) and depth < MAX_LIST_NESTING:
        item_kind = kind[: -len("List")] or None  # API lists (CronJobList) omit each item's kind
        for item in items:
            yield from _resources(item, item_kind, api_version if item_kind else None, depth + 1)
        return
    yield Resource(value, kind, api_version)


def _manifest_like(document: object) -> bool:
    """A Kubernetes object or list (its problems are ours), not any other YAML or JSON."""
    if isinstance(document, list):
        return any(_manifest_like(item) for item in document)
    return isinstance(document, Obj) and ("kind" in document or "apiVersion" in document)


def looks_like_manifest(head: bytes) -> bool:
    """For a file without an extension: does its start read like a manifest (`apiVersion` at the
    top level of YAML and a `kind`, or both as keys of a JSON object)?"""
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if text.startswith("{"):
        return '"apiVersion"' in text and '"kind"' in text
    return bool(_YAML_API_VERSION.search(text) and _YAML_KIND.search(text))


# ---------------------------------------------------------------------------------------------
# Loading


def load_manifests(
    data: bytes, *, truncated: bool = False, loader: LoaderClass | None = None
) -> Loaded:
    """Every document of a manifest file. `truncated` files lose their last, incomplete document
    (and JSON files everything, as a cut JSON value cannot be read)."""
    loaded = Loaded()
    text = _decode(data, loaded)
    if text is None:
        return loaded
    loaded.lines = text.split("\n")
    if text.lstrip(" \t\r\n").startswith("{"):
        loaded.format = "json"
        if not truncated:
            _load_json(text, loaded)
    else:
        chunks = _split_documents(loaded.lines)
        if truncated:
            chunks = chunks[:-1]
        budget = _Budget()
        for count, (first_line, chunk) in enumerate(chunks):
            if count == MAX_DOCUMENTS:
                loaded.problems.append(
                    Problem("PARSE_LIMIT", f"more than {MAX_DOCUMENTS} documents", first_line + 1)
                )
                break
            if chunk.strip() and not _load_yaml(
                chunk, first_line, loader or DEFAULT_LOADER, budget, loaded
            ):
                break
    loaded.problems.sort(key=lambda p: p.line or 0)
    return loaded


def _decode(data: bytes, loaded: Loaded) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                loaded.problems.append(
                    Problem("ENCODING_ERROR", f"not valid {encoding} after its byte order mark", 1)
                )
                return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        loaded.problems.append(
            Problem(
                "ENCODING_ERROR",
                f"not UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}); "
                "kubectl refuses the file",
                line,
            )
        )
        return None


def _split_documents(lines: list[str]) -> list[tuple[int, str]]:
    """Documents as kubectl's YAML reader cuts them: (index of the first line, text)."""
    chunks: list[tuple[int, str]] = []
    start = 0
    for index, line in enumerate(lines):
        if line.startswith("---"):
            rest = line[3:].strip()
            if not rest or rest.startswith("#"):
                chunks.append((start, "\n".join(lines[start:index])))
                start = index + 1
    chunks.append((start, "\n".join(lines[start:])))
    return chunks


# -- JSON ------------------------------------------------------------------------------------


def _load_json(text: str, loaded: Loaded) -> None:
    """A stream of JSON values. Objects are built by the standard decoder; their lines come from
    matching braces outside strings, in the order the decoder closes the objects."""
    created: list[tuple[Obj, list[str]]] = []

    def build(pairs: list[tuple[str, object]]) -> Obj:
        obj = Obj()
        repeated = []
        for key, value in pairs:
            if key in obj:
                repeated.append(key)
            obj[key] = value
        created.append((obj, repeated))
        return obj

    decoder = json.JSONDecoder(object_pairs_hook=build)
    relevant: list[bool] = []  # per created object: is it part of a manifest-like value?
    index, end = 0, len(text)
    while True:
        while index < end and text[index] in " \t\r\n":
            index += 1
        if index >= end:
            break
        try:
            value, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as error:
            loaded.problems.append(
                Problem("PARSE_ERROR", f"JSON syntax error: {error.msg}", error.lineno)
            )
            break
        except RecursionError:
            loaded.problems.append(
                Problem("PARSE_LIMIT", "JSON nested too deeply to be read", _line_at(text, index))
            )
            break
        except ValueError as error:  # an integer of more digits than Python converts
            loaded.problems.append(
                Problem(
                    "PARSE_ERROR",
                    f"JSON value not readable: {_short(str(error))}",
                    _line_at(text, index),
                )
            )
            break
        relevant.extend([_manifest_like(value)] * (len(created) - len(relevant)))
        loaded.documents.append(value)
    if not created:
        return
    starts = [0, *accumulate(len(line) + 1 for line in loaded.lines)]
    spans = _object_spans(text)
    for (obj, repeated), (opened, closed), report in zip(created, spans, relevant, strict=False):
        obj.line = bisect.bisect_right(starts, opened)
        obj.end_line = bisect.bisect_right(starts, closed)
        for key in repeated if report else ():
            loaded.problems.append(
                Problem(
                    "AMBIGUOUS_KEY",
                    f"key {key!r} appears more than once in the object starting at line "
                    f"{obj.line}; the last value is used, as Kubernetes does",
                    obj.line,
                )
            )


def _object_spans(text: str) -> Iterator[tuple[int, int]]:
    """(offset of `{`, offset of `}`) of every object, in the order objects close."""
    stack: list[int] = []
    for match in _JSON_TOKEN.finditer(text):
        brace = match.group(1)
        if brace == "{":
            stack.append(match.start())
        elif brace == "}" and stack:
            yield stack.pop(), match.start()


def _short(text: str, cap: int = 80) -> str:
    return text if len(text) <= cap else text[:cap] + "…"


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


# -- YAML ------------------------------------------------------------------------------------


class _LimitExceeded(Exception):
    def __init__(self, code: str, message: str, mark: Mark | None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.mark = mark


@dataclass(slots=True)
class _Budget:
    """What the documents of one file have used so far."""

    aliases: int = 0
    nodes: int = 0


class _LimitedComposer(Composer):
    """The PyYAML composer, counting nodes, aliases and nesting as it goes."""

    budget: _Budget  # the file's, set before composing
    depth: int = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[attr-defined]
        mark = getattr(event, "start_mark", None)
        budget = self.budget
        budget.nodes += 1
        if budget.nodes > MAX_NODES:
            raise _LimitExceeded(
                "PARSE_LIMIT", f"more than {MAX_NODES} YAML nodes; the rest is not read", mark
            )
        if isinstance(event, AliasEvent):
            budget.aliases += 1
            if budget.aliases > MAX_ALIASES:
                raise _LimitExceeded(
                    "YAML_ALIAS_LIMIT", f"more than {MAX_ALIASES} aliases in one file", mark
                )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _LimitExceeded(
                    "YAML_DEPTH_LIMIT", f"nested deeper than {MAX_DEPTH} levels", mark
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class SafeManifestLoader(_LimitedComposer, yaml.SafeLoader):
    """`yaml.SafeLoader`, used only to compose nodes, with alias and depth limits."""


class _Composing(Protocol):
    budget: _Budget

    def check_node(self) -> bool: ...
    def get_node(self) -> Node | None: ...
    def construct_object(self, node: Node, deep: bool = False) -> Any: ...
    def dispose(self) -> None: ...


LoaderClass = Callable[[str], _Composing]
DEFAULT_LOADER: LoaderClass = SafeManifestLoader
LOADERS: tuple[LoaderClass, ...] = (SafeManifestLoader,)

if yaml.__with_libyaml__:  # the same composer over libyaml's parser: about four times faster
    from yaml._yaml import CParser

    class FastManifestLoader(_LimitedComposer, CParser, SafeConstructor, Resolver):
        """libyaml's parser feeding the same limited composer (CParser's own composer is never
        used: ours comes first in the method resolution order)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    DEFAULT_LOADER = FastManifestLoader
    LOADERS = (SafeManifestLoader, FastManifestLoader)


def _load_yaml(
    chunk: str, first_line: int, loader_class: LoaderClass, budget: _Budget, loaded: Loaded
) -> bool:
    """Compose and build every document of one chunk; False when a file-wide limit was hit."""
    loader = loader_class(chunk)
    loader.budget = budget
    try:
        while loader.check_node():
            before = budget.aliases
            node = loader.get_node()
            if node is None:
                continue
            refusal = _expansion_problem(node, first_line) if budget.aliases > before else None
            if refusal is not None:
                loaded.problems.append(refusal)
                continue
            problems: list[Problem] = []
            document = _Builder(loader, first_line, problems).build(node)
            if _manifest_like(document):  # not other YAML's tags (`!Ref`, `!vault`) or keys
                loaded.problems.extend(problems)
            loaded.documents.append(document)
    except _LimitExceeded as error:
        line = error.mark.line + 1 + first_line if error.mark is not None else None
        loaded.problems.append(Problem(error.code, error.message, line))
        return error.code == "YAML_DEPTH_LIMIT"  # the others are spent for the whole file
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 + first_line if mark is not None else None
        detail = "; ".join(p for p in (error.context, error.problem) if p)
        if "maximum nesting depth" in detail:  # PyYAML ≥ 6.0.4 caps flow nesting itself
            loaded.problems.append(Problem("YAML_DEPTH_LIMIT", f"nested too deep: {detail}", line))
            return True
        hint = " (an unrendered Helm/Go template? render it first)" if "{{" in chunk else ""
        loaded.problems.append(Problem("PARSE_ERROR", f"YAML syntax error: {detail}{hint}", line))
    except yaml.YAMLError as error:  # ReaderError: a character YAML does not allow
        position = getattr(error, "position", None)
        line = None
        if isinstance(position, int):
            encoded = loader_class is not SafeManifestLoader  # libyaml counts bytes
            counted = chunk.encode("utf-8", "surrogatepass")[:position] if encoded else None
            lines_before = (
                counted.count(b"\n") if counted is not None else chunk.count("\n", 0, position)
            )
            line = lines_before + 1 + first_line
        reason = getattr(error, "reason", None) or "unreadable character"
        character = getattr(error, "character", None)
        shown = f" character #x{character:04x}:" if isinstance(character, int) else ""
        loaded.problems.append(Problem("PARSE_ERROR", f"YAML syntax error:{shown} {reason}", line))
    finally:
        loader.dispose()
    return True


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _expansion_problem(root: Node, first_line: int) -> Problem | None:
    """Refuse a document that contains itself, or whose aliases, expanded, would add more than
    MAX_ALIAS_EXPANSION nodes or nest deeper than MAX_DEPTH. Iterative: the node graph is a DAG
    whose expanded depth may exceed Python's stack."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    line = root.start_mark.line + 1 + first_line
    while stack:
        node, finished = stack.pop()
        key = id(node)
        kids = _children(node)
        if finished:
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            open_nodes.discard(key)
            continue
        if key in size:
            continue
        open_nodes.add(key)
        stack.append((node, True))
        for kid in kids:
            if id(kid) in open_nodes:
                return Problem("YAML_ALIAS_LIMIT", "a YAML alias refers to its own anchor", line)
            if id(kid) not in size:
                stack.append((kid, False))
    expanded = size[id(root)] - len(size)
    if expanded > MAX_ALIAS_EXPANSION:
        return Problem(
            "YAML_ALIAS_LIMIT",
            f"YAML aliases would expand this document by {expanded} nodes "
            f"(limit {MAX_ALIAS_EXPANSION}): an alias bomb; the document is not read",
            line,
        )
    if depth[id(root)] > MAX_DEPTH:
        return Problem(
            "YAML_DEPTH_LIMIT", f"aliases nest this document deeper than {MAX_DEPTH} levels", line
        )
    return None


class _Builder:
    """Plain values from composed nodes; every node is built once (aliases share the value)."""

    def __init__(self, loader: _Composing, first_line: int, problems: list[Problem]) -> None:
        self.loader = loader
        self.first_line = first_line
        self.problems = problems
        self.built: dict[int, object] = {}

    def line(self, mark: Mark) -> int:
        return mark.line + 1 + self.first_line

    def build(self, node: Node) -> object:
        key = id(node)
        if key not in self.built:
            self.built[key] = self._build(node)
        return self.built[key]

    def _build(self, node: Node) -> object:
        tag = node.tag
        if isinstance(node, ScalarNode) and tag in _TEXT_TAGS:
            return str(node.value)
        if isinstance(node, ScalarNode) and tag in _VALUE_TAGS:
            try:
                return self.loader.construct_object(node)
            except (ValueError, yaml.YAMLError) as error:
                self.problems.append(
                    Problem(
                        "PARSE_ERROR",
                        f"YAML value {_short(str(node.value))!r} not readable: {_short(str(error))}",
                        self.line(node.start_mark),
                    )
                )
                return str(node.value)
        if isinstance(node, SequenceNode) and tag == _SEQ:
            return [self.build(item) for item in node.value]
        if isinstance(node, MappingNode) and tag == _MAP:
            return self._mapping(node)
        self._refuse(node)
        return None

    def _refuse(self, node: Node) -> None:
        shown = "!!" + node.tag[len(_TAG) :] if node.tag.startswith(_TAG) else node.tag
        self.problems.append(
            Problem(
                "YAML_TAG_REFUSED",
                f"YAML tag {shown} refused: only plain values are read, nothing is constructed "
                "from a tag; the value is read as null",
                self.line(node.start_mark),
            )
        )

    def _mapping(self, node: MappingNode) -> Obj:
        end = node.end_mark
        end_line = end.line + self.first_line + (1 if end.column else 0)
        obj = Obj(self.line(node.start_mark), max(end_line, self.line(node.start_mark)))
        merged: list[Obj] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                value = self.build(value_node)
                for part in value if isinstance(value, list) else [value]:
                    if isinstance(part, Obj):
                        merged.append(part)
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag not in (
                _TEXT_TAGS | _VALUE_TAGS
            ):
                if isinstance(key_node, ScalarNode):
                    self._refuse(key_node)
                else:
                    self.problems.append(
                        Problem(
                            "PARSE_ERROR",
                            "a mapping key that is not a plain value is ignored",
                            self.line(key_node.start_mark),
                        )
                    )
                continue
            key = str(key_node.value)
            line = self.line(key_node.start_mark)
            if key in obj:
                self.problems.append(
                    Problem(
                        "AMBIGUOUS_KEY",
                        f"key {key!r} appears more than once in this mapping (first at line "
                        f"{obj.key_lines[key]}); the last value is used, as Kubernetes does",
                        line,
                    )
                )
            obj[key] = self.build(value_node)
            obj.key_lines[key] = line
        for part in merged:  # `<<`: explicit keys win, then earlier merged mappings
            for key, value in part.items():
                if key not in obj:
                    obj[key] = value
                    obj.key_lines[key] = part.key_line(key)
        return obj
