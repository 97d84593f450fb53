"""Root key providers: the file key (today's format) and the HSM key (inside SoftHSM2)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.kms.domain.enums import KeySpec
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.errors import KeyUnavailableException, KMSInternalException
from strongroom.kms.keystores.asymmetric import HmacMaterial
from strongroom.kms.keystores.pkcs11 import AttributeCheckFailed, Pkcs11Error, TokenConnection
from strongroom.kms.keystores.software import SoftwareKeyStore, material_aad
from strongroom.kms.rootkey.hsm import HsmRootKey
from strongroom.kms.rootkey.providers import FileRootKey, RootKeyUnwrapFailed
from tests.support.softhsm import SoftHsmToken, import_aes_key, remove_token

ARN = "arn:aws:kms:us-east-1:111122223333:key/k"


@pytest.fixture
def hsm_root(softhsm_token: SoftHsmToken) -> Iterator[HsmRootKey]:
    root = HsmRootKey.open(
        softhsm_token.module, softhsm_token.label, softhsm_token.pin, "root-v1", create=True
    )
    yield root
    root.close()


def test_file_root_key_keeps_the_original_layout() -> None:
    value = os.urandom(32)
    blob = FileRootKey(Secret(value)).wrap(b"material", b"aad")
    assert len(blob) == 12 + len(b"material") + 16
    assert AESGCM(value).decrypt(blob[:12], blob[12:], b"aad") == b"material"
    with pytest.raises(RootKeyUnwrapFailed):
        FileRootKey(Secret(value)).unwrap(blob, b"other")
    assert "redacted" in repr(FileRootKey(Secret(value)))


def test_store_built_from_a_secret_reads_what_it_wrote_before() -> None:
    value = os.urandom(32)
    wrapped = SoftwareKeyStore("s", Secret(value)).new_material(ARN, "m1")
    aad = material_aad("s", ARN, "m1", KeySpec.SYMMETRIC_DEFAULT)
    assert len(AESGCM(value).decrypt(wrapped[:12], wrapped[12:], aad)) == 32


def test_hsm_root_key_round_trip_and_layout(hsm_root: HsmRootKey) -> None:
    blob = hsm_root.wrap(b"k" * 32, b"bound to this")
    assert len(blob) == 12 + 32 + 16
    assert hsm_root.unwrap(blob, b"bound to this") == b"k" * 32
    assert hsm_root.wrap(b"k" * 32, b"bound to this")[:12] != blob[:12]  # fresh IVs
    assert hsm_root.descriptor == "pkcs11:root-v1"


def test_hsm_root_key_rejects_wrong_aad_and_short_or_tampered_blobs(hsm_root: HsmRootKey) -> None:
    blob = hsm_root.wrap(b"secret", b"aad")
    for bad, aad in ((blob, b"other"), (blob[:20], b"aad"), (blob[:-1] + b"\0", b"aad")):
        with pytest.raises(RootKeyUnwrapFailed):
            hsm_root.unwrap(bad, aad)


def test_store_on_hsm_root_key_wraps_material_and_secrets(hsm_root: HsmRootKey) -> None:
    store = SoftwareKeyStore("store-1", hsm_root)
    wrapped = store.new_material(ARN, "m1")
    cipher = store.open_material(ARN, "m1", wrapped)
    nonce, sealed = cipher.encrypt(b"data", b"ctx")
    assert store.open_material(ARN, "m1", wrapped).decrypt(nonce, sealed, b"ctx") == b"data"
    hmac_wrapped = store.new_material(ARN, "m2", KeySpec.HMAC_256)
    mac = store.open_handle(ARN, "m2", hmac_wrapped, KeySpec.HMAC_256)
    assert isinstance(mac, HmacMaterial)
    assert mac.verify(b"msg", mac.mac(b"msg"))
    sealed_secret = store.seal_secret("access-key", "AKIA1", b"s3cr3t")
    assert store.unseal_secret("access-key", "AKIA1", sealed_secret) == b"s3cr3t"
    with pytest.raises(KMSInternalException):
        store.open_material(ARN, "another-material", wrapped)


def test_hsm_root_key_is_found_again_by_label(softhsm_token: SoftHsmToken) -> None:
    args = (softhsm_token.module, softhsm_token.label, softhsm_token.pin, "root-v1")
    first = HsmRootKey.open(*args, create=True)
    blob = first.wrap(b"persisted", b"")
    first.close()
    again = HsmRootKey.open(*args)
    assert again.unwrap(blob, b"") == b"persisted"
    again.close()
    with pytest.raises(Pkcs11Error, match="no key labelled 'other'"):
        HsmRootKey.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin, "other")


def test_a_root_key_that_was_extractable_or_imported_is_refused(
    softhsm_token: SoftHsmToken,
) -> None:
    conn = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    try:
        conn.generate_aes_key("exportable", key_id=b"x", extractable=True)
        import_aes_key(softhsm_token, "imported", os.urandom(32))
        for label, missing in (("exportable", "NEVER_EXTRACTABLE"), ("imported", "LOCAL")):
            with pytest.raises(AttributeCheckFailed, match=missing):
                HsmRootKey.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin, label)
    finally:
        conn.close()


def test_hsm_root_key_works_with_an_in_memory_session_copy(
    softhsm_token: SoftHsmToken, hsm_root: HsmRootKey
) -> None:
    assert hsm_root.uses_session_copy
    conn = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    try:
        key = conn.find_aes_key("root-v1")  # the token object only, not the copy
        assert key is not None
        blob = hsm_root.wrap(b"same key", b"")
        assert conn.gcm_decrypt(key, blob[:12], blob[12:], b"") == b"same key"
    finally:
        conn.close()


def test_store_reports_an_unavailable_token_as_key_unavailable(
    softhsm_token: SoftHsmToken,
) -> None:
    # Without the session copy: SoftHSM keeps session objects in memory, so a copy outlives the
    # removal of the token's files (a real device removal ends every session).
    hsm_root = HsmRootKey.open(
        softhsm_token.module,
        softhsm_token.label,
        softhsm_token.pin,
        "root-v1",
        create=True,
        session_copy=False,
    )
    assert not hsm_root.uses_session_copy
    store = SoftwareKeyStore("store-1", hsm_root)
    wrapped = store.new_material(ARN, "m1")
    remove_token(softhsm_token)
    with pytest.raises(KeyUnavailableException):
        store.open_material(ARN, "m1", wrapped)
    with pytest.raises(KeyUnavailableException):
        store.new_material(ARN, "m2")
    hsm_root.close()
