"""KMIP objects in a default store whose root key is in a PKCS#11 token (SoftHSM2): created,
exported and used as with a root key file, and only ever stored wrapped by the token's key."""

from __future__ import annotations

from pathlib import Path

from kmip.core import enums

from tests.kmip.conftest import kms_caller_arn
from tests.support.kmip import kmip_server
from tests.support.softhsm import create_token


def test_kmip_keys_under_an_hsm_root_key(tmp_path: Path) -> None:
    token = create_token("kmip")
    pin_file = tmp_path / "pin"
    pin_file.write_text(token.pin + "\n")
    pin_file.chmod(0o600)
    settings = {
        "root_key": "pkcs11",
        "hsm_module": token.module,
        "hsm_token_label": token.label,
        "hsm_key_label": "root-v1",
        "hsm_pin_file": str(pin_file),
    }
    with kmip_server(tmp_path / "world", **settings) as world:
        pair = world.pki.client("hsm-client")
        world.register(pair, kms_caller_arn(world))
        client = world.proxy(pair)
        try:
            uid = client.create(enums.CryptographicAlgorithm.AES, 256)
            client.activate(uid)
            material = client.get(uid).value
            ciphertext, iv = client.encrypt(
                b"x" * 32,
                uid=uid,
                cryptographic_parameters={"block_cipher_mode": enums.BlockCipherMode.CBC},
            )
            assert (
                client.decrypt(
                    ciphertext,
                    uid=uid,
                    cryptographic_parameters={"block_cipher_mode": enums.BlockCipherMode.CBC},
                    iv_counter_nonce=iv,
                )
                == b"x" * 32
            )
        finally:
            client.close()
        database = (world.server.data_dir / "strongroom.db").read_bytes()
        assert material not in database
        assert not (world.server.data_dir / "root.key").exists()
