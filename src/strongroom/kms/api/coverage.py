"""Renders docs/api-coverage.md from the operation registry and the service model.

Regenerate with ``python -m strongroom.kms.api.coverage > docs/api-coverage.md``; a test fails
when the committed file differs from what the code says.
"""

from __future__ import annotations

from strongroom.kms.api.model import ServiceModel
from strongroom.kms.service.registry import EXTENSIONS, OPERATIONS

NOTES: dict[str, str] = {
    "GetKeyRotationStatus": (
        "KeyRotationEnabled false for keys that do not rotate (asymmetric, HMAC, imported, "
        "custom key store), as AWS; Enable/DisableKeyRotation refuse them (no message)."
    ),
    "CreateKey": (
        "Origin AWS_KMS or EXTERNAL (BYOK: PendingImport, no material); MultiRegion "
        "(mrk- ids) with Origin AWS_KMS. "
        "Key specs: SYMMETRIC_DEFAULT; RSA_2048/3072/4096 "
        "(ENCRYPT_DECRYPT, SIGN_VERIFY); ECC_NIST_P256/P384/P521 (SIGN_VERIFY, KEY_AGREEMENT); "
        "ECC_SECG_P256K1, ECC_NIST_EDWARDS25519 and ML_DSA_44/65/87 (SIGN_VERIFY); "
        "ML_KEM_768/1024 (ENCAPSULATE_DECAPSULATE); HMAC_224/256/384/512 (GENERATE_VERIFY_MAC). "
        "Not served (UnsupportedOperationException): SM2 (AWS offers it in China Regions only; "
        "`cryptography` has no SM2); ML_KEM_512 (`cryptography` 50 has ML-KEM-768/1024 only)."
    ),
    "Decrypt": (
        "Symmetric ciphertexts (KeyId optional and checked: IncorrectKeyException); RSAES-OAEP "
        "ciphertexts made with the public key (KeyId and EncryptionAlgorithm required)."
    ),
    "ReplicateKey": (
        "Into any served Region; the answer shows the replica Creating, as AWS's does, and it is "
        "Enabled right after (AWS takes a while). "
        "Keys with imported material (EXTERNAL) are not multi-Region here."
    ),
    "UpdatePrimaryRegion": "Swaps the roles at once (AWS passes through Updating).",
    "Encrypt": "SYMMETRIC_DEFAULT; RSAES_OAEP_SHA_1/256 with RSA keys (no encryption context).",
    "ReEncrypt": "Between symmetric and RSA keys in either direction.",
    "Sign": (
        "RSASSA-PSS (salt = hash length), RSASSA-PKCS1-v1_5, ECDSA (DER), ED25519_SHA_512 "
        "(RAW), ML_DSA_SHAKE_256 (RAW or EXTERNAL_MU). MessageType RAW/DIGEST/EXTERNAL_MU. "
        "ED25519_PH_SHA_512 (Ed25519ph, DIGEST) is not served: `cryptography` has no Ed25519ph, "
        "so Ed25519 keys list ED25519_SHA_512 only."
    ),
    "Verify": "As Sign; a bad signature is KMSInvalidSignatureException.",
    "GenerateDataKeyPair": (
        "RSA_2048/3072/4096, ECC_NIST_P256/P384/P521, ECC_SECG_P256K1, ECC_NIST_EDWARDS25519, "
        "ML_KEM_768/1024; SM2 and ML_KEM_512 are not served."
    ),
    "GenerateDataKeyPairWithoutPlaintext": "As GenerateDataKeyPair.",
    "DeriveSharedSecret": "ECDH on ECC_NIST_P256/P384/P521; Recipient is not supported.",
    "Encapsulate": "ML_KEM with ML_KEM_768/1024 keys.",
    "Decapsulate": (
        "ML_KEM with ML_KEM_768/1024 keys; a malformed ciphertext is InvalidCiphertextException "
        "(a well-formed wrong one gives an unrelated secret: ML-KEM's implicit rejection)."
    ),
    "GenerateRandom": "With CustomKeyStoreId, the bytes come from the store's HSM cluster.",
    "CreateCustomKeyStore": (
        "AWS_CLOUDHSM over PKCS#11 token clusters (docs/custom-key-stores.md); "
        "EXTERNAL_KEY_STORE with PUBLIC_ENDPOINT connectivity (docs/external-key-stores.md); "
        "VPC_ENDPOINT_SERVICE is XksProxyVpcEndpointServiceNotFoundException."
    ),
    "ConnectCustomKeyStore": "Synchronous: the outcome is in DescribeCustomKeyStores at once.",
    "ListAliases": "With AWS's predefined `alias/aws/*` names (no TargetKeyId until their AWS "
    "managed key exists).",
    "CreateAlias": "`alias/aws/` names: NotAuthorizedException (also UpdateAlias, DeleteAlias).",
    "DescribeKey": "A predefined `alias/aws/<service>` of the caller's account creates its AWS "
    "managed key (as do the other operations that accept aliases).",
    "CreateGrant": "GranteeServicePrincipal needs a SourceArn constraint and a retiring principal.",
    "GetParametersForImport": (
        "WrappingKeySpec RSA_2048/3072/4096; RSAES_OAEP_SHA_1/256 (not for RSA material, nor "
        "P-521 under RSA_2048) and RSA_AES_KEY_WRAP_SHA_1/256. RSAES_PKCS1_V1_5 and SM2 are "
        "refused. Token and public key valid 24 hours."
    ),
    "ImportKeyMaterial": (
        "Every key spec served. ExpirationModel/ValidTo; ImportType, KeyMaterialId and "
        "KeyMaterialDescription (symmetric keys: several materials, on-demand rotation)."
    ),
    "DeleteImportedKeyMaterial": "The current or a named material; the key becomes PendingImport.",
    "RotateKeyOnDemand": "Imported keys: to the material imported as NEW (PENDING_ROTATION).",
}


def render() -> str:
    model = ServiceModel.load()
    names = sorted(model.operation_names)
    done = [n for n in names if n in OPERATIONS]
    lines = [
        "# KMS API coverage",
        "",
        "Generated from the operation registry (`kms/service/registry.py`) and botocore's KMS",
        "service model by `python -m strongroom.kms.api.coverage`; do not edit by hand.",
        "",
        f"**{len(done)} of {len(names)} operations** of the service model are served.",
        "Requests to the others are answered with `UnsupportedOperationException`.",
        "",
        "| Operation | Served | IAM action(s) | DryRun | Notes |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        operation = OPERATIONS.get(name)
        if operation is None:
            lines.append(f"| {name} | no | | | |")
            continue
        actions = ", ".join(f"`{a}`" for a in dict.fromkeys(operation.actions))
        dry_run = "yes" if operation.dry_run else ""
        lines.append(f"| {name} | yes | {actions} | {dry_run} | {NOTES.get(name, '')} |")
    lines += [
        "",
        "## Strongroom extensions",
        "",
        "Operations AWS does not have, on the same endpoint and protocol (`X-Amz-Target:",
        "TrentService.<Name>`, SigV4, JSON); see docs/security.md. With",
        "`export AWS_DATA_PATH=$(strongroom aws-data-path)`, boto3 and the AWS CLI call them like",
        "any KMS operation (`aws kms get-exposure-report`, `kms.list_provider_accesses()`).",
        "Their answers are in the KMS's JSON style: PascalCase members, timestamps in epoch",
        "seconds (LookupAuditEvents' events are CloudTrail records, in CloudTrail's format).",
        "",
        "| Operation | IAM action(s) | Input members |",
        "|---|---|---|",
    ]
    for name, (operation, members) in sorted(EXTENSIONS.items()):
        actions = ", ".join(f"`{a}`" for a in dict.fromkeys(operation.actions))
        inputs = ", ".join(f"`{m}`" for m in members) or "(none)"
        lines.append(f"| {name} | {actions} | {inputs} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
