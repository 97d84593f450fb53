"""``strongroom byok wrap`` and ``byok import`` as real processes against a live server.

The server (unwrapping) and boto3 (using the imported key) check what the command did; OpenSSL
makes the private keys and the public keys they must match.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.byok import OAEP_256, external_key, state
from tests.support.byok_openssl import random_bytes
from tests.support.servers import InProcessServer, in_process_server

REGION = "us-east-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with in_process_server(tmp_path_factory.mktemp("byok-command")) as running:
        yield running


@pytest.fixture(scope="module")
def kms(server: InProcessServer) -> Any:
    return server.client()


def run(server: InProcessServer, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``strongroom byok ARGS`` as its own process, with the server admin's credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STRONGROOM_"))}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-credentials"),
        AWS_CONFIG_FILE=str(tmp / "no-config"),
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ACCESS_KEY_ID=server.admin_key.access_key_id,
        AWS_SECRET_ACCESS_KEY=server.admin_key.secret_access_key,
    )
    return subprocess.run(
        [sys.executable, "-m", "strongroom.cli.main", "byok", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def succeeds(result: subprocess.CompletedProcess[str], material: bytes) -> dict[str, Any]:
    """A command that worked: exit 0, JSON on stdout, the key material nowhere."""
    assert result.returncode == 0, result.stderr
    for shown in (material.hex(), base64.b64encode(material).decode()):
        assert shown not in result.stdout + result.stderr
    output: dict[str, Any] = json.loads(result.stdout)
    return output


def fails(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    return result.stderr


def import_args(server: InProcessServer, key_id: str, key_file: Path, *extra: str) -> list[str]:
    return [
        "import",
        "--endpoint-url",
        server.endpoint,
        "--key-id",
        key_id,
        "--key-file",
        str(key_file),
        "--wrapping-key-spec",
        "RSA_2048",
        *extra,
    ]


def test_import_a_symmetric_key_file(server: InProcessServer, kms: Any, tmp_path: Path) -> None:
    material = random_bytes(32)
    key_file = tmp_path / "key.bin"
    key_file.write_bytes(material)
    key_id = external_key(kms)
    output = succeeds(run(server, tmp_path, *import_args(server, key_id, key_file)), material)
    assert output["KeyState"] == "Enabled"
    assert output["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert output["KeyMaterialId"] == meta["CurrentKeyMaterialId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"via the CLI")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"via the CLI"

    # The same file again, now with an expiry (a re-import changes it); OAEP this time.
    result = run(
        server,
        tmp_path,
        *import_args(server, key_id, key_file, "--expires", "30d"),
        "--wrapping-algorithm",
        OAEP_256,
    )
    again = succeeds(result, material)
    assert again["KeyMaterialId"] == output["KeyMaterialId"]
    valid_to = kms.describe_key(KeyId=key_id)["KeyMetadata"]["ValidTo"]
    assert abs(valid_to - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)

    other = tmp_path / "other.bin"
    other.write_bytes(random_bytes(32))
    message = fails(run(server, tmp_path, *import_args(server, key_id, other)))
    assert "ImportKeyMaterial failed: IncorrectKeyMaterialException" in message


def test_import_a_pem_private_key(server: InProcessServer, kms: Any, tmp_path: Path) -> None:
    pem = tmp_path / "signing.pem"
    curve = ["-pkeyopt", "ec_paramgen_curve:P-384"]
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "EC", *curve, "-out", str(pem)],
        check=True,
        capture_output=True,
    )
    public = subprocess.run(
        ["openssl", "pkey", "-in", str(pem), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    key_id = external_key(kms, KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")
    valid_to = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    material = pem.read_bytes()
    output = succeeds(
        run(server, tmp_path, *import_args(server, key_id, pem, "--valid-to", valid_to)), material
    )
    assert output["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert output["KeyState"] == "Enabled"
    assert kms.get_public_key(KeyId=key_id)["PublicKey"] == public


def test_wrap_with_a_saved_parameters_file(
    server: InProcessServer, kms: Any, tmp_path: Path
) -> None:
    material = random_bytes(32)
    (tmp_path / "key.bin").write_bytes(material)
    key_id = external_key(kms)
    response = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=OAEP_256, WrappingKeySpec="RSA_2048"
    )
    # As `aws kms get-parameters-for-import --output json` writes it: blobs in base64.
    saved = {
        "KeyId": response["KeyId"],
        "ImportToken": base64.b64encode(response["ImportToken"]).decode(),
        "PublicKey": base64.b64encode(response["PublicKey"]).decode(),
        "ParametersValidTo": response["ParametersValidTo"].isoformat(),
    }
    (tmp_path / "parameters.json").write_text(json.dumps(saved))
    common = ["wrap", "--parameters", str(tmp_path / "parameters.json")]
    common += ["--key-file", str(tmp_path / "key.bin"), "--out", str(tmp_path / "wrapped.bin")]
    message = fails(run(server, tmp_path, *common))
    assert "--wrapping-algorithm" in message
    output = succeeds(run(server, tmp_path, *common, "--wrapping-algorithm", OAEP_256), material)
    assert output["WrappingAlgorithm"] == OAEP_256
    kms.import_key_material(
        KeyId=key_id,
        ImportToken=response["ImportToken"],
        EncryptedKeyMaterial=(tmp_path / "wrapped.bin").read_bytes(),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    assert state(kms, key_id) == "Enabled"


def test_wrap_fetching_the_parameters(server: InProcessServer, kms: Any, tmp_path: Path) -> None:
    material = random_bytes(64)
    (tmp_path / "mac.bin").write_bytes(material)
    key_id = external_key(kms, KeySpec="HMAC_512", KeyUsage="GENERATE_VERIFY_MAC")
    args = ["wrap", "--endpoint-url", server.endpoint, "--key-id", key_id]
    args += ["--key-file", str(tmp_path / "mac.bin"), "--out", str(tmp_path / "wrapped.bin")]
    args += ["--token-out", str(tmp_path / "token.bin"), "--wrapping-key-spec", "RSA_2048"]
    output = succeeds(run(server, tmp_path, *args), material)
    assert output["WrappingAlgorithm"] == "RSA_AES_KEY_WRAP_SHA_256"
    kms.import_key_material(
        KeyId=key_id,
        ImportToken=(tmp_path / "token.bin").read_bytes(),
        EncryptedKeyMaterial=(tmp_path / "wrapped.bin").read_bytes(),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    mac = kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_512")["Mac"]
    assert kms.verify_mac(KeyId=key_id, Message=b"m", Mac=mac, MacAlgorithm="HMAC_SHA_512")[
        "MacValid"
    ]


def test_refusals(server: InProcessServer, kms: Any, tmp_path: Path) -> None:
    key_file = tmp_path / "key.bin"
    key_file.write_bytes(random_bytes(32))
    generated = kms.create_key()["KeyMetadata"]["KeyId"]
    message = fails(run(server, tmp_path, *import_args(server, generated, key_file)))
    assert "GetParametersForImport failed: UnsupportedOperationException" in message
    external = external_key(kms)
    message = fails(
        run(server, tmp_path, *import_args(server, external, key_file, "--expires", "soon"))
    )
    assert "--expires" in message
    message = fails(run(server, tmp_path, *import_args(server, external, tmp_path / "missing")))
    assert "cannot read" in message
    message = fails(run(server, tmp_path, "wrap", "--key-file", str(key_file), "--out", "x"))
    assert "--parameters" in message
    assert state(kms, external) == "PendingImport"
