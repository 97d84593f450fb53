"""Per-worker caches that keep the hot path free of database round trips.

Every write to something cached appends a row to the ``changes`` table in the same transaction.
Each worker polls that feed (``poll``, a few times a second, off the request path) and evicts
what changed, so a change made through any worker or node is seen everywhere within the poll
interval plus one query. Writes made by this worker also update its own cache at once.

Unwrapped material is kept for ``material_ttl`` and then unwrapped again, so a key store change
(HSM disconnected, root key rotated) is picked up within that time.

Keys are regional: lookups name the region, and entries are kept by record id (the key id,
region-qualified for a multi-Region key: domain/ids.record_id), aliases by account, region and
name, materials by record id and material id.

Each table holds at most ``max_entries`` (100,000 by default) and forgets the least recently
used entry beyond that (lru.py; ``evictions`` counts them, the metrics show it). A key new to the
worker costs one database read: its record and its current material come in one query.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar, cast

from strongroom.kms.domain import ciphertext
from strongroom.kms.domain.custom_key_stores import effective_key_state
from strongroom.kms.domain.enums import KeySpec
from strongroom.kms.domain.ids import MULTI_REGION_PREFIX, record_id
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.errors import InvalidCiphertextException, KMSInternalException
from strongroom.kms.keystores.base import (
    AsymmetricHandle,
    CustomKeyStores,
    KeyStore,
    MacMaterial,
    MaterialCipher,
    MaterialHandle,
)
from strongroom.kms.service.lru import GroupedLru, Lru
from strongroom.kms.storage.database import Change, Database, DatabaseUnavailable
from strongroom.kms.storage.keys import KeyRepository

MAX_ENTRIES = 100_000
_MISSING = object()
_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(frozen=True, slots=True)
class _Material:
    key_id: str  # record id
    cipher: MaterialHandle
    expires_at: float
    header: bytes  # a symmetric key's ciphertext blob header for this material (else empty)


@dataclass(frozen=True, slots=True)
class _Export:
    key_id: str
    material: Secret
    expires_at: float


class KeyCache:
    def __init__(
        self,
        db: Database,
        keys: KeyRepository,
        store: KeyStore,
        material_ttl: float = 300.0,
        *,
        custom_stores: CustomKeyStores | None = None,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._db = db
        self._repo = keys
        self._store = store
        self._custom = custom_stores
        self._material_ttl = material_ttl
        self._keys: Lru[str, KeyRecord | None] = Lru(max_entries)
        self._aliases: Lru[tuple[str, str, str], str | None] = Lru(max_entries)
        self._materials: GroupedLru[_Material] = GroupedLru(max_entries)
        # Wrapped current materials read with their key, not unwrapped yet ((record id,
        # material id) -> store_id, wrapped): the first Encrypt under a new key needs no
        # second read.
        self._wrapped: GroupedLru[tuple[str, bytes]] = GroupedLru(max_entries)
        # (record id, material id) -> exported material (KMIP objects)
        self._exports: GroupedLru[_Export] = GroupedLru(max_entries)
        # Called with each key id forgotten: caches kept beside this one (KMIP objects).
        self._forget_hooks: list[Callable[[str], None]] = []
        self.last_seq = db.last_change_seq()
        # Set by the server's feed poller (trust_until): past it, cached keys are not served.
        self._trusted_until: float | None = None
        # What the metrics read (kms/observability.py): key lookups answered from the cache
        # and from the database, material found unwrapped or unwrapped again, entries evicted
        # (changed elsewhere, or the table full), and when the change feed was last read.
        self.hits = 0
        self.misses = 0
        self.material_hits = 0
        self.material_misses = 0
        # Entries dropped because they changed (change feed, own writes); the LRUs count
        # those pushed out by the bound.
        self._dropped = 0
        self._material_dropped = 0
        # Bumped by every eviction: a key or alias read from the database while an eviction
        # ran may predate the change that caused it, so it is not kept (``_keep_if_current``).
        self._epoch = 0
        self.feed_read_at: float | None = None

    # --- reads --------------------------------------------------------------------------

    def key(self, region: str, key_id: str) -> KeyRecord | None:
        """The key ``key_id`` of ``region`` as requests see it (None: no such key there): a
        custom key store's key is Unavailable while its store is not connected."""
        if self._trusted_until is not None and time.monotonic() > self._trusted_until:
            raise DatabaseUnavailable("the change feed has not been read in time")
        # record_id(region, key_id), inlined: this runs on every request.
        slot = f"{region}/{key_id}" if key_id.startswith(MULTI_REGION_PREFIX) else key_id
        cached = self._keys.get(slot, _MISSING)
        if cached is _MISSING:
            self.misses += 1
            record = self._refresh(slot)
        else:
            self.hits += 1
            # The table holds KeyRecord | None (no cast: it builds a union on every call).
            record = cached  # type: ignore[assignment]
        if record is None or record.region != region:
            return None
        if record.custom_key_store_id is None:
            return record
        return self._as_seen(record)

    def refresh_key(self, region: str, key_id: str) -> KeyRecord | None:
        """The key read from the database now (control-plane operations)."""
        record = self._refresh(record_id(region, key_id))
        return record if record is not None and record.region == region else None

    def _refresh(self, slot: str) -> KeyRecord | None:
        """Read the key with record id ``slot`` and its current material in one query."""
        epoch = self._epoch
        record, current = self._repo.get_key_with_material(slot)
        self._keys.put(slot, record)
        if current is not None:
            material_id, store_id, wrapped = current
            self._wrapped.put((slot, material_id), (store_id, wrapped))
        self._keep_if_current(self._keys, slot, epoch)
        return record

    def _keep_if_current(self, table: Lru[_K, _V], slot: _K, epoch: int) -> None:
        """Drop what a read stored if an eviction ran since the read began.

        The race it closes: a read starts, another node commits a change (the read does not
        see it), the feed poller applies the change (evicting nothing yet: the entry is not
        there), then the read stores its old answer, which would be served until the key
        changes again. Checked after storing, so an eviction between the check and the store
        cannot slip through either; a needless drop only costs one more read.
        """
        if self._epoch != epoch:
            table.pop(slot, None)
            self._dropped += 1

    @property
    def evictions(self) -> int:
        """Keys and aliases dropped since start: changed, or pushed out by the bound."""
        return self._dropped + self._keys.evictions + self._aliases.evictions

    @property
    def material_evictions(self) -> int:
        """Materials dropped since start: their key changed, or pushed out by the bound."""
        tables = (self._materials, self._wrapped, self._exports)
        return self._material_dropped + sum(table.evictions for table in tables)

    def _as_seen(self, record: KeyRecord) -> KeyRecord:
        assert record.custom_key_store_id is not None
        connected = self._custom is not None and self._custom.is_connected(
            record.custom_key_store_id
        )
        state = effective_key_state(record.state, connected)
        return record if state is record.state else replace(record, state=state)

    def alias_target(self, account_id: str, region: str, alias_name: str) -> str | None:
        """The key id the alias names in ``region`` (None: no such alias)."""
        slot = (account_id, region, alias_name)
        cached = self._aliases.get(slot, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]  # str | None, as the table holds
        return self.refresh_alias(account_id, region, alias_name)

    def refresh_alias(self, account_id: str, region: str, alias_name: str) -> str | None:
        epoch = self._epoch
        alias = self._repo.get_alias(account_id, region, alias_name)
        target = None if alias is None else alias.target_key_id
        slot = (account_id, region, alias_name)
        self._aliases.put(slot, target)
        self._keep_if_current(self._aliases, slot, epoch)
        return target

    def material(self, key: KeyRecord, material_id: str) -> MaterialCipher:
        """The cipher for one material version of a symmetric ``key``.

        A material id that is unknown or belongs to another key is a ciphertext problem, and
        is reported as such.
        """
        if key.key_spec is not KeySpec.SYMMETRIC_DEFAULT:
            raise InvalidCiphertextException()
        # _handle's hit, inlined (every Encrypt and Decrypt): the unwrapped cipher, still fresh.
        entry = self._materials.get((key.record_id, material_id), None)
        if entry is not None and entry.expires_at > time.monotonic():
            self.material_hits += 1
            return entry.cipher  # type: ignore[return-value]  # a symmetric key's handle
        return cast(MaterialCipher, self._handle(key, material_id))

    def sealing(self, key: KeyRecord, material_id: str) -> tuple[bytes, MaterialCipher]:
        """The blob header and the cipher of a symmetric ``key``'s material (Encrypt): kept
        in one entry, so a request under a key the worker holds does one lookup, not two."""
        if key.key_spec is not KeySpec.SYMMETRIC_DEFAULT:
            raise InvalidCiphertextException()
        entry = self._entry(key, material_id)
        return entry.header, entry.cipher  # type: ignore[return-value]  # a symmetric handle

    def mac_material(self, key: KeyRecord) -> MacMaterial:
        """The current material of an HMAC key (the pipeline checked its spec and usage)."""
        assert key.current_material_id is not None
        return cast(MacMaterial, self._handle(key, key.current_material_id))

    def asymmetric(self, key: KeyRecord) -> AsymmetricHandle:
        """The private key of an asymmetric key (the pipeline checked its spec and usage)."""
        assert key.current_material_id is not None
        return cast(AsymmetricHandle, self._handle(key, key.current_material_id))

    def exported(self, key: KeyRecord) -> Secret:
        """The current material itself, of an exportable key (a KMIP object, whose key the
        pipeline checked); kept like unwrapped material, so KMIP Get and KMIP's own crypto
        do no database round trip in steady state."""
        material_id = key.current_material_id
        assert material_id is not None
        slot = (key.record_id, material_id)
        entry = self._exports.get(slot, None)
        if entry is not None and entry.expires_at > time.monotonic():
            return entry.material
        found = self._repo.get_material(key.record_id, material_id)
        if found is None:
            raise KMSInternalException("The key's current material is missing.")
        secret = self._store_of(found[0]).export_material(
            key.material_binding, material_id, found[1], key.key_spec
        )
        expires = time.monotonic() + self._material_ttl
        self._exports.put(slot, _Export(key.record_id, secret, expires))
        return secret

    def _handle(self, key: KeyRecord, material_id: str) -> MaterialHandle:
        return self._entry(key, material_id).cipher

    def _entry(self, key: KeyRecord, material_id: str) -> _Material:
        """A material's cache entry: the unwrapped one while it is fresh, else opened now."""
        entry = self._materials.get((key.record_id, material_id), None)
        if entry is not None and entry.expires_at > time.monotonic():
            self.material_hits += 1
            return entry
        return self._open(key, material_id)

    def _open(self, key: KeyRecord, material_id: str) -> _Material:
        """Unwrap a material (a miss): from the wrapped copy read with the key, or read now."""
        slot = (key.record_id, material_id)
        self.material_misses += 1
        # A material id that belongs to another key is not found: the ciphertext is invalid.
        found = self._wrapped.pop(slot, None) or self._repo.get_material(*slot)
        if found is None:
            raise InvalidCiphertextException()
        store = self._store_of(found[0])
        binding = key.material_binding
        cipher: MaterialHandle = (
            store.open_material(binding, material_id, found[1])
            if key.key_spec is KeySpec.SYMMETRIC_DEFAULT
            else store.open_handle(binding, material_id, found[1], key.key_spec)
        )
        if key.xks_key_id is not None and key.custom_key_store_id is not None:
            # An external key store's key: its material here, then the external key.
            assert self._custom is not None
            cipher = self._custom.external_cipher(
                key.custom_key_store_id, key.xks_key_id, key.arn, cast(MaterialCipher, cipher)
            )
        header = (
            ciphertext.header_for(key.key_id, material_id)
            if key.key_spec is KeySpec.SYMMETRIC_DEFAULT
            else b""
        )
        entry = _Material(key.record_id, cipher, time.monotonic() + self._material_ttl, header)
        self._materials.put(slot, entry)
        return entry

    def _store_of(self, store_id: str) -> KeyStore:
        if store_id == self._store.store_id or self._custom is None:
            return self._store
        return self._custom.key_store(store_id)

    # --- writes by this worker ------------------------------------------------------------

    def put_key(self, record: KeyRecord) -> None:
        self._keys.put(record.record_id, record)

    def on_forget(self, hook: Callable[[str], None]) -> None:
        """Call ``hook(key_id)`` whenever a key is forgotten (a change, a local write)."""
        self._forget_hooks.append(hook)

    def forget_key(self, key_id: str) -> None:
        """Forget the key with record id ``key_id``, its unwrapped and exported materials."""
        self._epoch += 1  # before the entry goes: see _keep_if_current
        for hook in self._forget_hooks:
            hook(key_id)
        if self._keys.pop(key_id, _MISSING) is not _MISSING:
            self._dropped += 1
        # Each table is keyed (record id, material id): the key's entries, not a scan.
        self._material_dropped += self._materials.pop_group(key_id)
        self._wrapped.pop_group(key_id)
        self._exports.pop_group(key_id)

    def forget_alias(self, account_id: str, region: str, alias_name: str) -> None:
        self._epoch += 1
        if self._aliases.pop((account_id, region, alias_name), _MISSING) is not _MISSING:
            self._dropped += 1

    @property
    def sizes(self) -> tuple[int, int]:
        """Entries cached: (keys and aliases, unwrapped materials)."""
        return len(self._keys) + len(self._aliases), len(self._materials)

    # --- invalidation -------------------------------------------------------------------

    def apply(self, changes: list[Change]) -> None:
        for change in changes:
            if change.key_id is not None:
                self.forget_key(change.key_id)
            if change.alias_name is not None and change.account_id is not None:
                self.forget_alias(change.account_id, change.region or "", change.alias_name)
            self.last_seq = max(self.last_seq, change.seq)

    def trust_until(self, deadline: float) -> None:
        """Serve cached keys until ``deadline`` (time.monotonic) unless trusted again: the
        poller calls this after each successful read of the feed. While the database cannot
        be read, a key changed by another node would otherwise be served stale for ever."""
        self._trusted_until = deadline
        self.feed_read_at = time.monotonic()

    def poll(self) -> list[Change]:
        """Read the change feed since the last poll and evict what changed."""
        changes = self._db.changes_since(self.last_seq)
        self.apply(changes)
        return changes
