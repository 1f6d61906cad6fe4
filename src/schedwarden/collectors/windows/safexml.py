"""Task XML read safely: every encoding seen in the wild, no DTD, bounded size, depth and elements.

Bytes are decoded first, by what they are rather than what they claim: a byte order mark wins
(the Atomic Red Team sample is UTF-8 with a BOM and declares UTF-16, and Task Scheduler reads it),
then UTF-16 without a BOM is recognised by its zero bytes around `<`, then the declared encoding of
8-bit text (UTF-8 when it declares UTF-16, which 8-bit bytes cannot be). The declaration is then
dropped and the text parsed by defusedxml with DTDs forbidden, so entity bombs (billion laughs,
quadratic blow-up), external entities and external DTDs are refused before anything is expanded
or fetched (reference/reliability.md W01-W05). A tree builder counts depth and elements and stops
at the caps (W06); the caller reads at most MAX_XML_BYTES (W07).
"""

from __future__ import annotations

import codecs
import re
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException, DTDForbidden
from defusedxml.ElementTree import DefusedXMLParser

MAX_XML_BYTES = 4 << 20  # real task XML is a few KB; Task Scheduler refuses far smaller files
MAX_DEPTH = 64
MAX_ELEMENTS = 50_000

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


class XmlProblem(Exception):
    """Why an XML file could not be read; `code` is the Issue code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def decode_xml(data: bytes) -> tuple[str, str]:
    """The text of an XML file and the encoding it was read with."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _decode(data[len(bom) :], encoding), encoding
    head = data[:4]
    if len(head) >= 2 and head[1] == 0 and head[0] != 0:
        return _decode(data, "utf-16-le"), "utf-16-le (no BOM)"
    if len(head) >= 2 and head[0] == 0 and head[1] != 0:
        return _decode(data, "utf-16-be"), "utf-16-be (no BOM)"
    declared = _DECLARED.match(data[:200])
    encoding = "utf-8"
    if declared:
        name = declared.group(1).decode("ascii").lower()
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            codec = "utf-8"
        if not codec.startswith(("utf-16", "utf-32")):
            encoding = codec
    return _decode(data, encoding), encoding


def _decode(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise XmlProblem(
            "ENCODING_ERROR", f"not valid {encoding} at byte {error.start}: {error.reason}"
        ) from None


class _Builder(TreeBuilder):
    """A tree builder that refuses documents nested deeper or larger than the caps."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.count = 0

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self.depth += 1
        self.count += 1
        if self.depth > MAX_DEPTH:
            raise XmlProblem("PARSE_LIMIT", f"elements nested deeper than {MAX_DEPTH} levels")
        if self.count > MAX_ELEMENTS:
            raise XmlProblem("PARSE_LIMIT", f"more than {MAX_ELEMENTS} elements")
        return super().start(tag, attrs)

    def end(self, tag: str) -> Element:
        self.depth -= 1
        return super().end(tag)


def parse_xml(data: bytes) -> tuple[Element, str]:
    """The root element of an XML file and its encoding; XmlProblem when it cannot be read."""
    if len(data) > MAX_XML_BYTES:
        raise XmlProblem("OVERSIZED_FILE", f"larger than {MAX_XML_BYTES} bytes: not parsed")
    text, encoding = decode_xml(data)
    text = _DECLARATION.sub("", text.lstrip("\ufeff"), count=1)
    parser = DefusedXMLParser(
        target=_Builder(), forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        parser.feed(text)
        root = parser.close()
    except DTDForbidden:
        raise XmlProblem(
            "DTD_FORBIDDEN",
            "has a document type declaration (DTD): refused, nothing in it was expanded or fetched",
        ) from None
    except DefusedXmlException as error:
        raise XmlProblem("DTD_FORBIDDEN", f"refused: {error}") from None
    except ParseError as error:
        raise XmlProblem("PARSE_ERROR", f"not well-formed XML: {error}") from None
    except RecursionError:
        raise XmlProblem("PARSE_LIMIT", "nested too deeply") from None
    if not isinstance(root, Element):
        raise XmlProblem("PARSE_ERROR", "no root element")
    return root, encoding


def local_name(tag: str) -> str:
    """`{http://schemas.microsoft.com/windows/2004/02/mit/task}Task` → `Task`."""
    return tag.rsplit("}", 1)[-1]


def child(element: Element | None, name: str) -> Element | None:
    if element is None:
        return None
    for item in element:
        if isinstance(item.tag, str) and local_name(item.tag) == name:
            return item
    return None


def children(element: Element | None, name: str | None = None) -> list[Element]:
    if element is None:
        return []
    return [
        item
        for item in element
        if isinstance(item.tag, str) and (name is None or local_name(item.tag) == name)
    ]


def text_of(element: Element | None, name: str | None = None) -> str | None:
    """The text of `element` (or of its child `name`), stripped; None when absent or empty."""
    target = element if name is None else child(element, name)
    if target is None or target.text is None:
        return None
    value = target.text.strip()
    return value or None


def flag(element: Element | None, name: str, default: bool) -> bool:
    """An xs:boolean child (`true`, `false`, `1`, `0`)."""
    value = text_of(element, name)
    if value is None:
        return default
    return value.lower() in ("true", "1")
