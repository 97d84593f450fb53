"""Encrypt, Decrypt, Sign, SignatureVerify and MAC with pykmip, each result checked by an
independent implementation (``cryptography``, ``hmac``) with material from KMIP Get."""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from kmip.core import enums
from kmip.pie.exceptions import KmipOperationFailure
from kmip.pie.objects import SymmetricKey

M = enums.CryptographicUsageMask
CBC = {
    "block_cipher_mode": enums.BlockCipherMode.CBC,
    "padding_method": enums.PaddingMethod.PKCS5,
    "cryptographic_algorithm": enums.CryptographicAlgorithm.AES,
}


def _active_aes(proxy: Any, masks: list[Any] | None = None) -> tuple[str, bytes]:
    uid = proxy.create(
        enums.CryptographicAlgorithm.AES,
        256,
        cryptographic_usage_mask=masks or [M.ENCRYPT, M.DECRYPT],
    )
    proxy.activate(uid)
    return uid, proxy.get(uid).value


def test_aes_cbc_with_a_server_made_iv_is_standard_cbc(proxy: Any) -> None:
    uid, key = _active_aes(proxy)
    plaintext = b"block device sector 0" * 3
    ciphertext, iv = proxy.encrypt(plaintext, uid=uid, cryptographic_parameters=CBC)
    assert len(iv) == 16 and ciphertext != plaintext
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    assert unpadder.update(padded) + unpadder.finalize() == plaintext
    assert (
        proxy.decrypt(ciphertext, uid=uid, cryptographic_parameters=CBC, iv_counter_nonce=iv)
        == plaintext
    )


def test_aes_ctr_with_the_clients_counter(proxy: Any) -> None:
    uid, key = _active_aes(proxy)
    counter = os.urandom(16)
    parameters = {"block_cipher_mode": enums.BlockCipherMode.CTR}
    ciphertext, iv = proxy.encrypt(
        b"seventeen bytes!!", uid=uid, cryptographic_parameters=parameters, iv_counter_nonce=counter
    )
    assert iv is None  # the client's counter, not returned
    encryptor = Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor()
    assert ciphertext == encryptor.update(b"seventeen bytes!!") + encryptor.finalize()


def test_a_pre_active_key_does_not_encrypt(proxy: Any) -> None:
    uid = proxy.create(enums.CryptographicAlgorithm.AES, 256)
    with pytest.raises(KmipOperationFailure) as failure:
        proxy.encrypt(b"data", uid=uid, cryptographic_parameters=CBC)
    assert failure.value.reason == enums.ResultReason.PERMISSION_DENIED


def test_the_usage_mask_is_enforced(proxy: Any) -> None:
    # pykmip's create always adds Encrypt and Decrypt to the mask; Register keeps it as given.
    uid = proxy.register(
        SymmetricKey(enums.CryptographicAlgorithm.AES, 256, os.urandom(32), [M.DECRYPT])
    )
    proxy.activate(uid)
    with pytest.raises(KmipOperationFailure) as failure:
        proxy.encrypt(b"data", uid=uid, cryptographic_parameters=CBC)
    assert failure.value.reason == enums.ResultReason.PERMISSION_DENIED


def test_ecb_and_missing_parameters_are_refused_clearly(proxy: Any) -> None:
    uid, _ = _active_aes(proxy)
    with pytest.raises(KmipOperationFailure) as ecb:
        proxy.encrypt(
            b"0" * 16,
            uid=uid,
            cryptographic_parameters={"block_cipher_mode": enums.BlockCipherMode.ECB},
        )
    assert ecb.value.reason == enums.ResultReason.FEATURE_NOT_SUPPORTED
    with pytest.raises(KmipOperationFailure) as none:
        proxy.encrypt(b"0" * 16, uid=uid)
    assert none.value.reason == enums.ResultReason.MISSING_DATA


def test_a_wrong_padding_fails_as_a_cryptographic_failure(proxy: Any) -> None:
    uid, _ = _active_aes(proxy)
    with pytest.raises(KmipOperationFailure) as failure:
        proxy.decrypt(
            os.urandom(32), uid=uid, cryptographic_parameters=CBC, iv_counter_nonce=os.urandom(16)
        )
    assert failure.value.reason == enums.ResultReason.CRYPTOGRAPHIC_FAILURE


def test_mac_is_hmac_sha256_of_the_keys_material(proxy: Any) -> None:
    uid = proxy.create(
        enums.CryptographicAlgorithm.HMAC_SHA256, 256, cryptographic_usage_mask=[M.MAC_GENERATE]
    )
    proxy.activate(uid)
    material = proxy.get(uid).value
    assert len(material) == 32
    got_uid, mac = proxy.mac(
        b"message", uid=uid, algorithm=enums.CryptographicAlgorithm.HMAC_SHA256
    )
    assert got_uid == uid
    assert mac == hmac.new(material, b"message", hashlib.sha256).digest()
    with pytest.raises(KmipOperationFailure) as wrong:
        proxy.mac(b"message", uid=uid, algorithm=enums.CryptographicAlgorithm.HMAC_SHA512)
    assert wrong.value.reason == enums.ResultReason.INVALID_FIELD


def test_rsa_pss_signatures_verify_with_the_public_key(proxy: Any) -> None:
    public_uid, private_uid = proxy.create_key_pair(
        enums.CryptographicAlgorithm.RSA,
        2048,
        private_usage_mask=[M.SIGN],
        public_usage_mask=[M.VERIFY],
    )
    assert public_uid == private_uid + "/public"
    proxy.activate(private_uid)
    parameters = {
        "padding_method": enums.PaddingMethod.PSS,
        "hashing_algorithm": enums.HashingAlgorithm.SHA_256,
        "cryptographic_algorithm": enums.CryptographicAlgorithm.RSA,
    }
    signature = proxy.sign(b"firmware image", uid=private_uid, cryptographic_parameters=parameters)
    public = serialization.load_der_public_key(proxy.get(public_uid).value)
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(
        signature,
        b"firmware image",
        asymmetric.PSS(mgf=asymmetric.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
    with pytest.raises(InvalidSignature):
        public.verify(
            signature,
            b"other",
            asymmetric.PSS(mgf=asymmetric.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )
    valid = proxy.signature_verify(
        b"firmware image", signature, uid=public_uid, cryptographic_parameters=parameters
    )
    assert valid == enums.ValidityIndicator.VALID
    invalid = proxy.signature_verify(
        b"tampered", signature, uid=public_uid, cryptographic_parameters=parameters
    )
    assert invalid == enums.ValidityIndicator.INVALID
    with pytest.raises(KmipOperationFailure) as public_signs:
        proxy.sign(b"x", uid=public_uid, cryptographic_parameters=parameters)
    assert public_signs.value.reason == enums.ResultReason.PERMISSION_DENIED


def test_rsa_oaep_encrypts_with_the_public_key_and_decrypts_with_the_private(proxy: Any) -> None:
    public_uid, private_uid = proxy.create_key_pair(
        enums.CryptographicAlgorithm.RSA,
        2048,
        private_usage_mask=[M.DECRYPT],
        public_usage_mask=[M.ENCRYPT],
    )
    proxy.activate(private_uid)
    parameters = {
        "padding_method": enums.PaddingMethod.OAEP,
        "hashing_algorithm": enums.HashingAlgorithm.SHA_256,
        "cryptographic_algorithm": enums.CryptographicAlgorithm.RSA,
    }
    ciphertext, _ = proxy.encrypt(b"data key", uid=public_uid, cryptographic_parameters=parameters)
    private = serialization.load_der_private_key(proxy.get(private_uid).value, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    oaep = asymmetric.OAEP(
        mgf=asymmetric.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
    )
    assert private.decrypt(ciphertext, oaep) == b"data key"
    theirs = private.public_key().encrypt(b"from outside", oaep)
    assert (
        proxy.decrypt(theirs, uid=private_uid, cryptographic_parameters=parameters)
        == b"from outside"
    )


def test_aes_gcm_with_additional_data_through_pykmips_payloads(
    world: Any, tenant: Any, proxy: Any
) -> None:
    """ProxyKmipClient has no parameters for GCM's additional data and tag; pykmip's payloads do."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from kmip.core.attributes import CryptographicParameters
    from kmip.core.messages import contents, messages, payloads

    uid, key = _active_aes(proxy)
    raw = world.raw(tenant.pair, enums.KMIPVersion.KMIP_1_4)

    def send(operation: Any, payload: Any) -> Any:
        item = messages.RequestBatchItem(
            operation=contents.Operation(operation), request_payload=payload
        )
        response = raw._send_and_receive_message(raw._build_request_message(None, [item]))
        return response.batch_items[0]

    gcm = CryptographicParameters(block_cipher_mode=enums.BlockCipherMode.GCM, tag_length=16)
    try:
        sealed = send(
            enums.Operation.ENCRYPT,
            payloads.EncryptRequestPayload(
                unique_identifier=uid,
                cryptographic_parameters=gcm,
                data=b"volume key",
                auth_additional_data=b"vm-7",
            ),
        )
        assert sealed.result_status.value == enums.ResultStatus.SUCCESS
        body = sealed.response_payload
        assert len(body.iv_counter_nonce) == 12 and len(body.auth_tag) == 16
        assert (
            AESGCM(key).decrypt(body.iv_counter_nonce, body.data + body.auth_tag, b"vm-7")
            == b"volume key"
        )
        opened = send(
            enums.Operation.DECRYPT,
            payloads.DecryptRequestPayload(
                unique_identifier=uid,
                cryptographic_parameters=gcm,
                data=body.data,
                iv_counter_nonce=body.iv_counter_nonce,
                auth_additional_data=b"vm-7",
                auth_tag=body.auth_tag,
            ),
        )
        assert opened.response_payload.data == b"volume key"
        forged = send(
            enums.Operation.DECRYPT,
            payloads.DecryptRequestPayload(
                unique_identifier=uid,
                cryptographic_parameters=gcm,
                data=body.data,
                iv_counter_nonce=body.iv_counter_nonce,
                auth_additional_data=b"vm-8",
                auth_tag=body.auth_tag,
            ),
        )
        assert forged.result_reason.value == enums.ResultReason.CRYPTOGRAPHIC_FAILURE
    finally:
        raw.close()
