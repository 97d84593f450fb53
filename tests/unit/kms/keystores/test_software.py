from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from strongroom.kms.domain.secrets import Secret
from strongroom.kms.errors import InvalidCiphertextException, KMSInternalException
from strongroom.kms.keystores.software import AesGcmMaterial, SoftwareKeyStore
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


def test_every_encrypt_has_a_nonce_of_its_own() -> None:
    cipher = AesGcmMaterial(os.urandom(32))
    nonces = [cipher.encrypt(b"data", b"")[0] for _ in range(3000)]
    assert {len(n) for n in nonces} == {12}
    assert len(set(nonces)) == len(nonces)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_reuse_the_parents_nonces() -> None:
    cipher = AesGcmMaterial(os.urandom(32))
    cipher.encrypt(b"data", b"")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its first nonce and leave at once
        os.write(write_end, cipher.encrypt(b"data", b"")[0])
        os._exit(0)
    os.close(write_end)
    child = os.read(read_end, 64)
    os.close(read_end)
    os.waitpid(pid, 0)
    parent = [cipher.encrypt(b"data", b"")[0] for _ in range(300)]
    assert len(child) == 12 and child not in parent
