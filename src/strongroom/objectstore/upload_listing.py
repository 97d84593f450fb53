"""ListMultipartUploads' pages: uploads by key then initiation, after S3's two markers, with
keys under a delimiter rolled up into common prefixes (each counts as one entry)."""

from __future__ import annotations

from dataclasses import dataclass, field

from strongroom.objectstore.records import Upload
from strongroom.objectstore.storage.metadata import Metadata

_BATCH = 1000


@dataclass(slots=True)
class UploadPage:
    uploads: list[Upload] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    next_key: str = ""
    next_upload_id: str = ""


def upload_page(
    metadata: Metadata,
    bucket: str,
    *,
    prefix: str,
    delimiter: str,
    key_marker: str,
    upload_id_marker: str,
    limit: int,
) -> UploadPage:
    page = UploadPage()
    # A marker that is a common prefix (the last page ended on it): its keys were listed.
    skip = (
        key_marker
        if delimiter and key_marker.startswith(prefix) and key_marker.endswith(delimiter)
        else None
    )
    cursor_key, cursor_id = key_marker, upload_id_marker
    while True:
        batch = metadata.list_uploads(bucket, prefix, cursor_key, cursor_id, _BATCH)
        for upload in batch:
            if skip is not None and upload.key.startswith(skip):
                continue
            rest = upload.key[len(prefix) :]
            cut = rest.find(delimiter) if delimiter else -1
            if len(page.uploads) + len(page.prefixes) >= limit:
                page.truncated = True
                return page
            if cut >= 0:
                common = prefix + rest[: cut + len(delimiter)]
                page.prefixes.append(common)
                skip = common
                page.next_key, page.next_upload_id = common, ""
            else:
                page.uploads.append(upload)
                page.next_key, page.next_upload_id = upload.key, upload.upload_id
        if len(batch) < _BATCH:
            return page
        cursor_key, cursor_id = batch[-1].key, batch[-1].upload_id
