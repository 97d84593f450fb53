from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from strongroom.kms.domain.secrets import Secret
from strongroom.kms.errors import InvalidCiphertextException, KMSInternalException
from strongroom.kms.keystores.software import NONCES, NoncePool, SoftwareKeyStore
from strongroom.kms.rootkey.key_file import (
    RootKeyFileError,
    create_root_key_file,
    load_root_key_file,
)

ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MATERIAL = "aa" * 32


@pytest.fixture
def store() -> SoftwareKeyStore:
    return SoftwareKeyStore("store-1", Secret(os.urandom(32)))


def test_material_is_bound_to_key_and_version(store: SoftwareKeyStore) -> None:
    wrapped = store.new_material(ARN, MATERIAL)
    cipher = store.open_material(ARN, MATERIAL, wrapped)
    nonce, sealed = cipher.encrypt(b"data", b"aad")
    assert cipher.decrypt(nonce, sealed, b"aad") == b"data"
    with pytest.raises(InvalidCiphertextException):
        cipher.decrypt(nonce, sealed, b"other aad")
    with pytest.raises(KMSInternalException):
        store.open_material(ARN.replace("1234abcd", "9999abcd"), MATERIAL, wrapped)
    with pytest.raises(KMSInternalException):
        store.open_material(ARN, "bb" * 32, wrapped)
    other_store = SoftwareKeyStore("store-1", Secret(os.urandom(32)))
    with pytest.raises(KMSInternalException):
        other_store.open_material(ARN, MATERIAL, wrapped)


def test_every_material_is_fresh(store: SoftwareKeyStore) -> None:
    first = store.open_material(ARN, MATERIAL, store.new_material(ARN, MATERIAL))
    second = store.open_material(ARN, MATERIAL, store.new_material(ARN, MATERIAL))
    nonce, sealed = first.encrypt(b"data", b"")
    with pytest.raises(InvalidCiphertextException):
        second.decrypt(nonce, sealed, b"")


def test_sealed_secrets(store: SoftwareKeyStore) -> None:
    sealed = store.seal_secret("access-key", "AKIA1", b"very-secret-value")
    assert b"very-secret-value" not in sealed
    assert store.unseal_secret("access-key", "AKIA1", sealed) == b"very-secret-value"
    with pytest.raises(KMSInternalException):
        store.unseal_secret("access-key", "AKIA2", sealed)
    assert "very-secret" not in repr(store)


def test_root_key_file(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "root.key"
    create_root_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(load_root_key_file(path).reveal()) == 32
    with pytest.raises(FileExistsError):
        create_root_key_file(path)
    path.chmod(0o640)
    with pytest.raises(RootKeyFileError, match="chmod 600"):
        load_root_key_file(path)
    path.chmod(0o600)
    path.write_bytes(b"short")
    with pytest.raises(RootKeyFileError, match="32 bytes"):
        load_root_key_file(path)
    with pytest.raises(RootKeyFileError, match="does not exist"):
        load_root_key_file(tmp_path / "absent")


def test_nonces_are_random_and_never_handed_out_twice() -> None:
    pool = NoncePool()
    taken = [pool.take() for _ in range(3000)]  # several draws
    assert {len(n) for n in taken} == {12}
    assert len(set(taken)) == len(taken)


def test_threads_share_the_pool_without_repeats() -> None:
    pool = NoncePool()
    found: list[list[bytes]] = [[] for _ in range(4)]

    def take(into: list[bytes]) -> None:
        for _ in range(2000):
            into.append(pool.take())

    threads = [threading.Thread(target=take, args=(f,)) for f in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [n for f in found for n in f]
    assert len(set(everything)) == len(everything) == 8000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_reuse_the_parents_nonces() -> None:
    NONCES.take()  # the pool now holds nonces the parent hands out next
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its first nonce and leave at once
        os.write(write_end, NONCES.take())
        os._exit(0)
    os.close(write_end)
    child = os.read(read_end, 64)
    os.close(read_end)
    os.waitpid(pid, 0)
    parent = [NONCES.take() for _ in range(300)]
    assert len(child) == 12 and child not in parent
