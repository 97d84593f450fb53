"""BYOK as AWS's guide does it: the AWS CLI for the API, OpenSSL for the wrapping; and
``strongroom byok wrap`` reading the AWS CLI's own GetParametersForImport output."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.api.test_aws_cli import AwsCli, cli  # noqa: F401 - the module's fixture
from tests.support.byok_openssl import random_bytes, wrap_for_import
from tests.support.servers import InProcessServer

ALGORITHM = "RSA_AES_KEY_WRAP_SHA_256"


def test_the_guide_with_the_aws_cli_and_openssl(
    cli: AwsCli,  # noqa: F811
    kms: Any,
    server: InProcessServer,
    tmp_path: Path,
) -> None:
    key_id = cli("create-key", "--origin", "EXTERNAL").json()["KeyMetadata"]["KeyId"]
    response = cli(
        "get-parameters-for-import",
        "--key-id",
        key_id,
        "--wrapping-algorithm",
        ALGORITHM,
        "--wrapping-key-spec",
        "RSA_2048",
    ).json()
    # As `aws kms get-parameters-for-import ... > parameters.json` saves it.
    (tmp_path / "parameters.json").write_text(json.dumps(response))
    public_key = base64.b64decode(response["PublicKey"])
    (tmp_path / "token.bin").write_bytes(base64.b64decode(response["ImportToken"]))
    material = random_bytes(32)
    (tmp_path / "wrapped.bin").write_bytes(
        wrap_for_import(tmp_path, public_key, ALGORITHM, material)
    )
    imported = cli(
        "import-key-material",
        "--key-id",
        key_id,
        "--encrypted-key-material",
        f"fileb://{tmp_path / 'wrapped.bin'}",
        "--import-token",
        f"fileb://{tmp_path / 'token.bin'}",
        "--expiration-model",
        "KEY_MATERIAL_DOES_NOT_EXPIRE",
    ).json()
    assert len(imported["KeyMaterialId"]) == 64
    assert cli.text("describe-key", "--key-id", key_id, "--query", "KeyMetadata.KeyState") == (
        "Enabled"
    )
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"guide")["CiphertextBlob"]

    # Delete, then re-import the same material wrapped by `strongroom byok wrap` from the
    # saved AWS CLI response (the token in it is still valid).
    deleted = cli("delete-imported-key-material", "--key-id", key_id).json()
    assert deleted["KeyMaterialId"] == imported["KeyMaterialId"]
    (tmp_path / "key.bin").write_bytes(material)
    args = ["--parameters", str(tmp_path / "parameters.json"), "--wrapping-algorithm", ALGORITHM]
    args += ["--key-file", str(tmp_path / "key.bin"), "--out", str(tmp_path / "rewrapped.bin")]
    wrapped = subprocess.run(
        [sys.executable, "-m", "strongroom.cli.main", "byok", "wrap", *args],
        capture_output=True,
        text=True,
        env=cli.env,
        timeout=60,
        check=False,
    )
    assert wrapped.returncode == 0, wrapped.stderr
    cli(
        "import-key-material",
        "--key-id",
        key_id,
        "--encrypted-key-material",
        f"fileb://{tmp_path / 'rewrapped.bin'}",
        "--import-token",
        f"fileb://{tmp_path / 'token.bin'}",
        "--expiration-model",
        "KEY_MATERIAL_DOES_NOT_EXPIRE",
    ).json()
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"guide"
    assert server.endpoint == cli.endpoint
