"""TagResource, UntagResource, ListResourceTags, and the tag rules CreateKey shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strongroom.kms import messages
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import LimitExceededException, TagException
from strongroom.kms.service.paging import page
from strongroom.kms.service.pipeline import Call, Operation, Response, managed_key

MAX_TAGS_PER_KEY = 50
RESERVED_TAG_PREFIX = "aws:"


def tags_from_request(raw: Sequence[Mapping[str, Any]] | None) -> dict[str, str]:
    """Turn a Tags member into a mapping, refusing reserved and duplicate keys."""
    tags: dict[str, str] = {}
    for item in raw or ():
        key, value = item["TagKey"], item["TagValue"]
        if key.lower().startswith(RESERVED_TAG_PREFIX):
            raise TagException(messages.TAG_PREFIX_RESERVED)
        if key in tags:
            raise TagException(messages.DUPLICATE_TAG_KEYS)
        tags[key] = value
    if len(tags) > MAX_TAGS_PER_KEY:
        raise TagException(f"A key can have at most {MAX_TAGS_PER_KEY} tags.")
    return tags


def tag_resource(call: Call) -> Response:
    key = call.key
    new_tags = tags_from_request(call.request["Tags"])
    existing = dict(call.ctx.keys.list_tags(key.record_id))
    if len(existing.keys() | new_tags.keys()) > MAX_TAGS_PER_KEY:
        raise LimitExceededException(
            f"The request would give {key.arn} more than {MAX_TAGS_PER_KEY} tags."
        )
    call.ctx.keys.put_tags(key.record_id, new_tags, call.ctx.clock.now())
    return {}


def untag_resource(call: Call) -> Response:
    call.ctx.keys.remove_tags(call.key.record_id, call.request["TagKeys"], call.ctx.clock.now())
    return {}


def list_resource_tags(call: Call) -> Response:
    all_tags = call.ctx.keys.list_tags(call.key.record_id)

    def fetch(after: str | None, limit: int) -> list[tuple[str, str]]:
        return [t for t in all_tags if after is None or t[0] > after][:limit]

    items, paging = page(
        fetch, lambda t: t[0], call.request.get("Limit", 50), call.request.get("Marker")
    )
    return {"Tags": [{"TagKey": k, "TagValue": v} for k, v in items], **paging}


# Tags are addressed by key id or ARN only, and read from the database, not the cache.
OPERATIONS = (
    Operation("TagResource", tag_resource, managed_key("kms:TagResource", OpClass.MODIFY)),
    Operation("UntagResource", untag_resource, managed_key("kms:UntagResource", OpClass.MODIFY)),
    Operation(
        "ListResourceTags", list_resource_tags, managed_key("kms:ListResourceTags", OpClass.READ)
    ),
)
