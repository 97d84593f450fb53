"""S3's XML: documents written by a small builder, request documents parsed defensively.

Request documents are small (bounded by the caller before parsing); the standard library's
expat refuses external entities and limits entity expansion.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import datetime
from xml.sax.saxutils import escape

from strongroom.objectstore.errors import MalformedXML

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
Node = tuple[str, "str | int | bool | datetime | Iterable[Node] | None"]


def timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _render(name: str, value: object, out: list[str]) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        out.append(f"<{name}>{'true' if value else 'false'}</{name}>")
    elif isinstance(value, datetime):
        out.append(f"<{name}>{timestamp(value)}</{name}>")
    elif isinstance(value, str | int):
        out.append(f"<{name}>{escape(str(value))}</{name}>")
    else:
        out.append(f"<{name}>")
        for child_name, child in value:  # type: ignore[attr-defined]
            _render(child_name, child, out)
        out.append(f"</{name}>")


def document(root: str, children: Iterable[Node], *, namespace: bool = True) -> bytes:
    out = [DECLARATION]
    out.append(f'<{root} xmlns="{NAMESPACE}">' if namespace else f"<{root}>")
    for name, value in children:
        _render(name, value, out)
    out.append(f"</{root}>")
    return "".join(out).encode("utf-8")


def parse(body: bytes, root: str) -> ET.Element:
    """The document's root element (namespaces removed), which must be named ``root``."""
    if not body.strip():
        raise MalformedXML()
    try:
        element = ET.fromstring(body)  # noqa: S314 - see the module docstring
    except ET.ParseError:
        raise MalformedXML() from None
    for node in element.iter():
        if isinstance(node.tag, str) and "}" in node.tag:
            node.tag = node.tag.split("}", 1)[1]
    if element.tag != root:
        raise MalformedXML()
    return element


def text(element: ET.Element, name: str) -> str | None:
    child = element.find(name)
    return None if child is None else (child.text or "")
