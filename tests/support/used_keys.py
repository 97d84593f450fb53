"""Keys of every kind, each used once, to check after the root key changed under them.

Used by the root key migration and rotation tests: a symmetric key with two material
versions, an RSA encryption key, an HMAC key and an ECC signing key, made and used through
boto3 before the change; :meth:`UsedKeys.check` then opens, verifies and signs with each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONTEXT = {"purpose": "root-key-change"}


@dataclass(frozen=True)
class UsedKeys:
    symmetric: str
    symmetric_blob: bytes
    rsa: str
    rsa_blob: bytes
    hmac: str
    mac: bytes
    signer: str
    signature: bytes

    @classmethod
    def create(cls, kms: Any) -> UsedKeys:
        symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.rotate_key_on_demand(KeyId=symmetric)  # two material versions
        sealed = kms.encrypt(KeyId=symmetric, Plaintext=b"symmetric", EncryptionContext=CONTEXT)
        rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
        rsa_sealed = kms.encrypt(
            KeyId=rsa["KeyId"], Plaintext=b"rsa", EncryptionAlgorithm="RSAES_OAEP_SHA_256"
        )
        hmac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
        mac = kms.generate_mac(KeyId=hmac["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")
        signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
        signature = kms.sign(
            KeyId=signer["KeyId"], Message=b"signed", SigningAlgorithm="ECDSA_SHA_256"
        )["Signature"]
        return cls(
            symmetric,
            sealed["CiphertextBlob"],
            rsa["KeyId"],
            rsa_sealed["CiphertextBlob"],
            hmac["KeyId"],
            mac["Mac"],
            signer["KeyId"],
            signature,
        )

    def check(self, kms: Any) -> None:
        """Every key still works: old ciphertexts open, old MAC and signature verify, new
        signatures verify."""
        opened = kms.decrypt(CiphertextBlob=self.symmetric_blob, EncryptionContext=CONTEXT)
        assert opened["Plaintext"] == b"symmetric"
        opened = kms.decrypt(
            KeyId=self.rsa, CiphertextBlob=self.rsa_blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256"
        )
        assert opened["Plaintext"] == b"rsa"
        assert kms.verify_mac(
            KeyId=self.hmac, Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=self.mac
        )["MacValid"]
        for message, signature in (
            (b"signed", self.signature),
            (
                b"new",
                kms.sign(KeyId=self.signer, Message=b"new", SigningAlgorithm="ECDSA_SHA_256")[
                    "Signature"
                ],
            ),
        ):
            assert kms.verify(
                KeyId=self.signer,
                Message=message,
                Signature=signature,
                SigningAlgorithm="ECDSA_SHA_256",
            )["SignatureValid"]
        new_key = kms.create_key()["KeyMetadata"]["KeyId"]
        new_blob = kms.encrypt(KeyId=new_key, Plaintext=b"after")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=new_blob)["Plaintext"] == b"after"
