"""``strongroom byok from-hsm``: export an AES-256 key out of a PKCS#11 token into a KMS key.

The key is generated in the token (extractable, so it can be wrapped) or taken by its label,
and it leaves the token only wrapped, inside the token, under the KMS wrapping public key
(RSAES_OAEP_SHA_1: the only RSA-OAEP SoftHSM 2.6 offers). Its plaintext never exists in this
process. Before the export the command records the key's lineage on the server
(``RecordKeyLineage``, a Strongroom extension operation): token label and serial, key label,
when. That is what makes the exposure report flag the key "protection lowered". When the
tenant's protection policy asks for approvals, the server opens a pending change instead; the
command prints its id and exits with status 3 without exporting anything, and is run again
once the approvers have approved it.

The PIN comes from ``--pin-file`` or an environment variable, never from the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from strongroom.cli import byok
from strongroom.cli.extension_call import ExtensionCallError, call_extension
from strongroom.kms.domain.lineage import HsmLineage

ALGORITHM = "RSAES_OAEP_SHA_1"
DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
DEFAULT_PIN_ENV = "STRONGROOM_PKCS11_PIN"
PENDING_APPROVAL_STATUS = 3


def add_parser(verbs: Any) -> None:
    parser = verbs.add_parser(
        "from-hsm",
        help="export an AES-256 key from a PKCS#11 token (wrapped inside the token) and import it",
        description=(
            "Generate an AES-256 key in a PKCS#11 token (or take the one labelled --key-label), "
            "record its lineage on the server, wrap it inside the token under the KMS wrapping "
            f"key with {ALGORITHM} (the only RSA-OAEP SoftHSM 2.6 supports; its OAEP is "
            "SHA-1 only) and import it into the EXTERNAL key. The key is then within the "
            "provider's reach: the exposure report flags it 'protection lowered'. If the "
            "account's protection policy asks for approvals, the command prints the pending "
            f"change and exits with status {PENDING_APPROVAL_STATUS}; run it again once "
            "approved. The PIN is read from --pin-file or from the environment variable "
            f"--pin-env (default {DEFAULT_PIN_ENV}), never from the command line."
        ),
    )
    byok._add_endpoint_arguments(parser, required=True)
    parser.add_argument("--module", default=DEFAULT_MODULE, help="the PKCS#11 library")
    parser.add_argument("--token-label", required=True, help="the token, by label")
    parser.add_argument("--key-label", help="the token key to export (generated if missing)")
    parser.add_argument(
        "--pin-file", type=Path, help="a file holding the user PIN (wins over --pin-env)"
    )
    parser.add_argument(
        "--pin-env",
        default=DEFAULT_PIN_ENV,
        help=f"the environment variable holding the user PIN (default {DEFAULT_PIN_ENV})",
    )
    parser.add_argument(
        "--wrapping-key-spec",
        choices=byok._SPECS,
        default=byok._DEFAULT_SPEC,
        help=f"the RSA wrapping key spec (default {byok._DEFAULT_SPEC})",
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--expires", metavar="DURATION", help="expire after e.g. 90d, 12h, 30m")
    when.add_argument(
        "--valid-to", metavar="TIMESTAMP", help="expire at an ISO 8601 time (UTC if no zone)"
    )
    parser.set_defaults(run=byok._guarded(_from_hsm))


def _pin(args: argparse.Namespace) -> str:
    if args.pin_file is not None:
        try:
            pin = str(args.pin_file.read_text()).rstrip("\r\n")
        except OSError as error:
            raise byok.ByokCommandError(
                f"cannot read the PIN file {args.pin_file}: {error.strerror}"
            ) from None
    else:
        pin = os.environ.get(args.pin_env, "")
    if not pin:
        raise byok.ByokCommandError(
            f"no PIN: pass --pin-file or set the environment variable {args.pin_env}"
        )
    return pin


def _existing_key(connection: Any, label: str) -> Any:
    """The token key with this label, or None; an existing key must be extractable."""
    key = connection.find_aes_key(label)
    if key is not None and not connection.attributes(key).extractable:
        raise byok.ByokCommandError(
            f"the key {label!r} on token {connection.token_label!r} is not extractable "
            "(CKA_EXTRACTABLE false): it cannot leave the token"
        )
    return key


def _record_lineage(args: argparse.Namespace, kms: Any, lineage: dict[str, Any]) -> str:
    """RECORDED, RECORDED_BEFORE, or PENDING_APPROVAL (the answer is printed then)."""
    import botocore.session

    session = botocore.session.Session(profile=args.profile)
    try:
        answer = call_extension(
            session,
            args.endpoint_url,
            kms.meta.region_name,
            "RecordKeyLineage",
            {"KeyId": args.key_id, **lineage},
        )
    except ExtensionCallError as error:
        if error.code != "AlreadyExistsException":
            raise byok.ByokCommandError(str(error)) from None
        # A re-run for the same token key goes on (a re-import of the same material); the
        # recorded lineage of another token key is not a licence to export this one.
        source = HsmLineage(
            lineage["TokenLabel"], lineage["TokenSerial"], lineage["KeyLabel"], datetime.now(UTC)
        ).source()
        if f"({source})" not in str(error):
            raise byok.ByokCommandError(
                f"{error}; this is {source}: nothing was exported"
            ) from None
        return "RECORDED_BEFORE"
    status = str(answer.get("Status"))
    if status == "PENDING_APPROVAL":
        print(json.dumps({**answer, **lineage}, indent=2))
    return status


def _from_hsm(args: argparse.Namespace) -> int:
    from strongroom.kms.keystores.pkcs11 import Pkcs11Error, TokenConnection

    pin = _pin(args)
    expiry = byok._expiry(args)
    kms = byok._client(args)
    try:
        connection = TokenConnection.open(args.module, args.token_label, pin)
    except Pkcs11Error as error:
        raise byok.ByokCommandError(
            f"cannot open token {args.token_label!r}: {type(error).__name__}"
        ) from None
    try:
        label = args.key_label or f"strongroom-byok-{uuid.uuid4().hex[:12]}"
        key = _existing_key(connection, label)
        lineage = {
            "TokenLabel": connection.token_label,
            "TokenSerial": connection.token_serial,
            "KeyLabel": label,
            "ExportedAt": datetime.now(UTC).timestamp(),
        }
        # Recorded (or sent for approval) before anything is generated or exported.
        recorded = _record_lineage(args, kms, lineage)
        if recorded == "PENDING_APPROVAL":
            return PENDING_APPROVAL_STATUS
        generated = key is None
        if key is None:
            key = connection.generate_aes_key(label, key_id=label.encode(), extractable=True)
        parameters = byok._get_parameters(kms, args.key_id, ALGORITHM, args.wrapping_key_spec)
        try:
            wrapped = connection.wrap_with_rsa_public_key(parameters["PublicKey"], key)
        except Pkcs11Error as error:
            raise byok.ByokCommandError(
                f"the token could not wrap {key.label!r}: {type(error).__name__}"
            ) from None
    finally:
        connection.close()
    request = {
        "KeyId": args.key_id,
        "ImportToken": parameters["ImportToken"],
        "EncryptedKeyMaterial": wrapped,
        **expiry,
    }
    imported = byok._call("ImportKeyMaterial", lambda: kms.import_key_material(**request))
    metadata = byok._call("DescribeKey", lambda: kms.describe_key(KeyId=args.key_id))
    result: dict[str, object] = {
        "KeyId": imported["KeyId"],
        "KeyMaterialId": imported.get("KeyMaterialId"),
        "KeyState": metadata["KeyMetadata"]["KeyState"],
        "ExpirationModel": expiry["ExpirationModel"],
        "WrappingAlgorithm": ALGORITHM,
        "TokenLabel": lineage["TokenLabel"],
        "TokenSerial": lineage["TokenSerial"],
        "KeyLabel": lineage["KeyLabel"],
        "KeyGenerated": generated,
        "Lineage": recorded,
    }
    if "ValidTo" in expiry:
        result["ValidTo"] = expiry["ValidTo"].isoformat()
    print(json.dumps(result, indent=2))
    sys.stdout.flush()
    return 0
