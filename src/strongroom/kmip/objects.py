"""Each worker's KMIP objects, kept beside the key cache and forgotten with their keys.

The key cache calls :meth:`KmipObjects.forget` for every key the change feed names (and for
this worker's own writes), so KMIP Get and KMIP's cryptographic operations read no database
in steady state, and a change made by any worker is seen within the feed's poll interval.
"""

from __future__ import annotations

from strongroom.kmip.errors import KmipItemNotFound
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.kmip import KmipObject
from strongroom.kms.service.cache import KeyCache
from strongroom.kms.storage.kmip import KmipRepository

_MAX_ENTRIES = 100_000
_MISSING = object()


class KmipObjects:
    def __init__(self, repository: KmipRepository, cache: KeyCache) -> None:
        self.repository = repository
        self._objects: dict[str, KmipObject | None] = {}
        cache.on_forget(self.forget)

    def of(self, key: KeyRecord) -> KmipObject:
        """The KMIP object of a key the pipeline resolved; a key made through the KMS API
        (no KMIP object) is not found, as if it did not exist, to KMIP clients."""
        found = self._objects.get(key.key_id, _MISSING)
        if found is _MISSING:
            found = self.repository.get(key.key_id)
            self._remember(key.key_id, found)
        if not isinstance(found, KmipObject) or found.account_id != key.account_id:
            raise KmipItemNotFound(f"No KMIP object {key.key_id}.")
        return found

    def put(self, obj: KmipObject) -> None:
        self._remember(obj.key_id, obj)

    def forget(self, key_id: str) -> None:
        self._objects.pop(key_id, None)

    def _remember(self, key_id: str, obj: KmipObject | None) -> None:
        if len(self._objects) >= _MAX_ENTRIES:
            self._objects.clear()
        self._objects[key_id] = obj
