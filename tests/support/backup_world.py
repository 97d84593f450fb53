"""A data directory with something of every kind in it, and what a client sees of it.

Used by the backup tests: :func:`populate` makes keys of every kind (with aliases, grants,
policies, tags, rotation, imported material with an expiry, a custom key store record,
governance records) and outputs made with them; :func:`observe` reads back, through the API,
everything a restore must bring back, so two servers can be compared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.byok import external_key, import_material
from tests.support.hsm_clusters import register_cluster
from tests.support.raw_kms import RawKms
from tests.support.servers import RunningServer

KINDS = {
    "symmetric": {},
    "rsa-encrypt": {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
    "rsa-sign": {"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"},
    "ecc-sign": {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
    "ecc-agree": {"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"},
    "hmac": {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
    "ml-kem": {"KeySpec": "ML_KEM_768", "KeyUsage": "ENCAPSULATE_DECAPSULATE"},
}


@dataclass
class Made:
    """What :func:`populate` made, and outputs to check after a restore."""

    keys: dict[str, str] = field(default_factory=dict)  # kind -> key id
    outputs: dict[str, Any] = field(default_factory=dict)


def populate(server: RunningServer, tmp: Path) -> Made:
    kms, made = server.client(), Made()
    for kind, arguments in KINDS.items():
        key_id = kms.create_key(Description=f"{kind} key", **arguments)["KeyMetadata"]["KeyId"]
        made.keys[kind] = key_id
        kms.create_alias(AliasName=f"alias/backup-{kind}", TargetKeyId=key_id)
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "kind", "TagValue": kind}])
    symmetric = made.keys["symmetric"]
    account = kms.describe_key(KeyId=symmetric)["KeyMetadata"]["AWSAccountId"]
    admin = f"arn:aws:iam::{account}:user/admin"
    kms.enable_key_rotation(KeyId=symmetric, RotationPeriodInDays=200)
    kms.rotate_key_on_demand(KeyId=symmetric)
    policy = json.loads(kms.get_key_policy(KeyId=symmetric, PolicyName="default")["Policy"])
    policy["Statement"].append(
        {"Sid": "Backup", "Effect": "Allow", "Principal": {"AWS": admin}, "Action": "kms:Encrypt"}
    )
    kms.put_key_policy(KeyId=symmetric, PolicyName="default", Policy=json.dumps(policy))
    kms.create_grant(
        KeyId=symmetric,
        GranteePrincipal=admin,
        Operations=["Decrypt", "Encrypt"],
        Constraints={"EncryptionContextSubset": {"app": "backup"}},
        Name="backup-grant",
    )
    imported = external_key(kms, Description="imported")
    made.keys["imported"] = imported
    valid_to = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    import_material(
        kms,
        tmp,
        imported,
        b"\x17" * 32,
        ExpirationModel="KEY_MATERIAL_EXPIRES",
        ValidTo=valid_to,
    )
    made.keys["disabled"] = kms.create_key(Description="disabled")["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=made.keys["disabled"])
    made.keys["deleting"] = kms.create_key(Description="deleting")["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=made.keys["deleting"], PendingWindowInDays=7)
    cluster = register_cluster(server.data_dir, hsms=2)
    kms.create_custom_key_store(
        CustomKeyStoreName="backup-store",
        CloudHsmClusterId=cluster.cluster_id,
        TrustAnchorCertificate=cluster.trust_anchor,
        KeyStorePassword=cluster.password,
    )
    raw = RawKms(server.endpoint, server.admin_key)
    try:
        reply = raw.call("PutProtectionPolicy", {"RequiredApprovals": 1, "Approvers": [admin]})
        assert reply.status == 200, reply.body
    finally:
        raw.close()
    _outputs(kms, made)
    return made


def _outputs(kms: Any, made: Made) -> None:
    keys, out = made.keys, made.outputs
    context = {"app": "backup"}
    out["symmetric"] = kms.encrypt(
        KeyId=keys["symmetric"], Plaintext=b"symmetric", EncryptionContext=context
    )["CiphertextBlob"]
    out["rsa"] = kms.encrypt(
        KeyId=keys["rsa-encrypt"], Plaintext=b"rsa", EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )["CiphertextBlob"]
    out["imported"] = kms.encrypt(KeyId=keys["imported"], Plaintext=b"imported")["CiphertextBlob"]
    out["signature"] = kms.sign(
        KeyId=keys["ecc-sign"], Message=b"signed", SigningAlgorithm="ECDSA_SHA_256"
    )["Signature"]
    out["mac"] = kms.generate_mac(
        KeyId=keys["hmac"], Message=b"maced", MacAlgorithm="HMAC_SHA_256"
    )["Mac"]
    data_key = kms.generate_data_key(KeyId=keys["symmetric"], KeySpec="AES_256")
    out["data_key"] = (data_key["Plaintext"], data_key["CiphertextBlob"])


def check_outputs(kms: Any, made: Made) -> None:
    """Everything made before the backup still opens and verifies after the restore."""
    keys, out = made.keys, made.outputs
    assert kms.decrypt(CiphertextBlob=out["symmetric"], EncryptionContext={"app": "backup"})[
        "Plaintext"
    ] == (b"symmetric")
    assert kms.decrypt(
        CiphertextBlob=out["rsa"],
        KeyId=keys["rsa-encrypt"],
        EncryptionAlgorithm="RSAES_OAEP_SHA_256",
    )["Plaintext"] == (b"rsa")
    assert kms.decrypt(CiphertextBlob=out["imported"])["Plaintext"] == b"imported"
    assert kms.verify(
        KeyId=keys["ecc-sign"],
        Message=b"signed",
        Signature=out["signature"],
        SigningAlgorithm="ECDSA_SHA_256",
    )["SignatureValid"]
    assert kms.verify_mac(
        KeyId=keys["hmac"], Message=b"maced", Mac=out["mac"], MacAlgorithm="HMAC_SHA_256"
    )["MacValid"]
    plaintext, blob = out["data_key"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext


def observe(server: RunningServer) -> dict[str, Any]:
    """What a client sees of every key and record a backup must bring back."""
    kms = server.client()
    seen: dict[str, Any] = {"keys": {}}
    key_ids = sorted(k["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"])
    for key_id in key_ids:
        meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        entry: dict[str, Any] = {"meta": meta}
        entry["aliases"] = kms.list_aliases(KeyId=key_id)["Aliases"]
        entry["tags"] = kms.list_resource_tags(KeyId=key_id)["Tags"]
        if meta["KeyState"] != "PendingDeletion":
            entry["policy"] = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
            entry["grants"] = kms.list_grants(KeyId=key_id)["Grants"]
        if meta["KeySpec"] == "SYMMETRIC_DEFAULT" and meta["KeyState"] == "Enabled":
            if meta["Origin"] == "AWS_KMS":
                status = kms.get_key_rotation_status(KeyId=key_id)
                entry["rotation"] = _without_metadata(status)
            entry["rotations"] = kms.list_key_rotations(KeyId=key_id)["Rotations"]
        seen["keys"][key_id] = entry
    seen["stores"] = kms.describe_custom_key_stores()["CustomKeyStores"]
    raw = RawKms(server.endpoint, server.admin_key)
    try:
        seen["protection"] = raw.call("GetProtectionPolicy", {}).body
    finally:
        raw.close()
    return seen


def _without_metadata(reply: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in reply.items() if k != "ResponseMetadata"}
