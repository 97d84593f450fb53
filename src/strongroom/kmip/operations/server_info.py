"""Query and DiscoverVersions: what this server speaks. No key; any registered client."""

from __future__ import annotations

from collections.abc import Callable

from strongroom.kmip import messages
from strongroom.kmip.enums import ObjectType, QueryFunction
from strongroom.kmip.enums import Operation as Code
from strongroom.kmip.errors import KmipInvalidField
from strongroom.kmip.operation import KmipOperation, answer, payload_of
from strongroom.kmip.tags import Tag
from strongroom.kmip.ttlv import Item, ItemType
from strongroom.kms.service.pipeline import Call, Operation, Response

VENDOR = "Strongroom"
SERVER_INFORMATION = "Strongroom KMIP server (KMIP 1.0-1.4, 2.0)"
OBJECT_TYPES = (ObjectType.SYMMETRIC_KEY, ObjectType.PUBLIC_KEY, ObjectType.PRIVATE_KEY)


class ServerInfo:
    def __init__(self, codes: Callable[[], list[int]]) -> None:
        """``codes``: the operation codes the registry holds (it is built after this)."""
        self._codes = codes

    def query(self, call: Call) -> Response:
        return query(call, self._codes())

    def operations(self) -> tuple[KmipOperation, ...]:
        return (
            KmipOperation(Code.QUERY, Operation("KmipQuery", self.query), names_object=False),
            KmipOperation(
                Code.DISCOVER_VERSIONS,
                Operation("KmipDiscoverVersions", discover_versions),
                names_object=False,
            ),
        )


def query(call: Call, codes: list[int]) -> Response:
    payload = payload_of(call)
    functions: list[int] = []
    for item in [] if payload is None else payload.find_all(Tag.QUERY_FUNCTION):
        if item.type is not ItemType.ENUMERATION:
            raise KmipInvalidField("Query Function must be an enumeration.")
        functions.append(item.number)
    children: list[Item] = []
    if QueryFunction.OPERATIONS in functions:
        children += [Item.enum(Tag.OPERATION, code) for code in sorted(codes)]
    if QueryFunction.OBJECTS in functions:
        children += [Item.enum(Tag.OBJECT_TYPE, kind) for kind in OBJECT_TYPES]
    if QueryFunction.SERVER_INFORMATION in functions:
        children += [
            Item.text(Tag.VENDOR_IDENTIFICATION, VENDOR),
            Item.struct(
                Tag.SERVER_INFORMATION, [Item.text(Tag.VENDOR_IDENTIFICATION, SERVER_INFORMATION)]
            ),
        ]
    return answer(children)


def discover_versions(call: Call) -> Response:
    payload = payload_of(call)
    asked = [] if payload is None else payload.find_all(Tag.PROTOCOL_VERSION)
    try:
        wanted = [messages.version_of(item) for item in asked]
    except (ValueError, AssertionError):
        raise KmipInvalidField("Protocol Version needs a major and a minor number.") from None
    chosen = (
        list(messages.SUPPORTED)
        if not wanted
        else [version for version in wanted if version in messages.SUPPORTED]
    )
    return answer([messages.version_item(version) for version in chosen])
