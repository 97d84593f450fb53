"""``strongroom byok``: bring your own key material, the client side of an import.

``byok wrap`` does what the OpenSSL steps of AWS's BYOK guide do, with ``cryptography``: it
encrypts a key file under the wrapping public key of a GetParametersForImport response (a file
saved from ``aws kms get-parameters-for-import``, or fetched from the endpoint), with the chosen
wrapping algorithm. ``byok import`` runs the whole flow for one key file: get parameters, wrap,
import. Both talk to the KMS API with botocore (the caller's AWS credentials: a profile, the
environment or the shared files), so they work against any Strongroom, and against AWS KMS.

Key files: 32 raw bytes for a symmetric key, raw bytes for an HMAC key, a private key as
PKCS#8 DER, or any PEM private key (converted to PKCS#8 DER). The plaintext key material never
leaves this process unwrapped and is never printed.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

_ALGORITHMS = (
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
)
_SPECS = ("RSA_2048", "RSA_3072", "RSA_4096")
_DEFAULT_ALGORITHM = "RSA_AES_KEY_WRAP_SHA_256"  # wraps every kind of material
_DEFAULT_SPEC = "RSA_3072"
_DURATION = re.compile(r"([1-9][0-9]*)([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class ByokCommandError(Exception):
    """A failure reported as one line on stderr, with exit status 2."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("byok", help="wrap and import your own key material")
    verbs = parser.add_subparsers(dest="verb", required=True)

    wrap = verbs.add_parser(
        "wrap",
        help="wrap a key file for ImportKeyMaterial (what AWS's OpenSSL steps do)",
        description=(
            "Encrypt a key file under a GetParametersForImport public key. Give either "
            "--parameters (a saved GetParametersForImport response, JSON) or --endpoint-url "
            "and --key-id to fetch fresh parameters (the import token is then written to "
            "--token-out)."
        ),
    )
    wrap.add_argument("--key-file", type=Path, required=True, help="the key material to wrap")
    wrap.add_argument("--out", type=Path, required=True, help="where the wrapped material goes")
    wrap.add_argument(
        "--parameters", type=Path, help="a GetParametersForImport response saved as JSON"
    )
    wrap.add_argument("--token-out", type=Path, help="where the fetched import token goes")
    _add_endpoint_arguments(wrap, required=False)
    _add_wrapping_arguments(wrap)
    wrap.set_defaults(run=_guarded(_wrap))

    flow = verbs.add_parser(
        "import",
        help="import a key file into an EXTERNAL key: get parameters, wrap, import",
        description=(
            "Import a key file into a KMS key with Origin EXTERNAL in one step. Without "
            "--expires or --valid-to the material does not expire."
        ),
    )
    flow.add_argument("--key-file", type=Path, required=True, help="the key material to import")
    _add_endpoint_arguments(flow, required=True)
    _add_wrapping_arguments(flow)
    when = flow.add_mutually_exclusive_group()
    when.add_argument("--expires", metavar="DURATION", help="expire after e.g. 90d, 12h, 30m")
    when.add_argument(
        "--valid-to", metavar="TIMESTAMP", help="expire at an ISO 8601 time (UTC if no zone)"
    )
    flow.add_argument("--import-type", choices=("NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL"))
    flow.add_argument("--key-material-id", help="the id of material imported before")
    flow.add_argument("--description", help="KeyMaterialDescription (symmetric keys)")
    flow.set_defaults(run=_guarded(_import))

    from strongroom.cli import byok_approvals, byok_hsm

    byok_hsm.add_parser(verbs)
    byok_approvals.add_parsers(verbs)


def _add_endpoint_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--endpoint-url", required=required, help="the server, e.g. http://127.0.0.1:8080"
    )
    parser.add_argument("--key-id", required=required, help="the EXTERNAL key (id or ARN)")
    parser.add_argument("--profile", help="AWS profile (default: the environment / default)")
    parser.add_argument("--region", help="AWS region (default: from the profile or environment)")


def _add_wrapping_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wrapping-algorithm",
        choices=_ALGORITHMS,
        help=f"the wrapping algorithm (default {_DEFAULT_ALGORITHM})",
    )
    parser.add_argument(
        "--wrapping-key-spec",
        choices=_SPECS,
        default=_DEFAULT_SPEC,
        help=f"the wrapping key spec when fetching parameters (default {_DEFAULT_SPEC})",
    )


def _guarded(action: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return action(args)
        except ByokCommandError as error:
            print(f"strongroom: {' '.join(str(error).split())}", file=sys.stderr)
            return 2

    return run


# --- byok wrap -------------------------------------------------------------------------------


def _wrap(args: argparse.Namespace) -> int:
    material = read_key_file(args.key_file)
    summary: dict[str, object]
    if args.parameters is not None:
        if args.endpoint_url is not None or args.key_id is not None:
            raise ByokCommandError("give either --parameters or --endpoint-url and --key-id")
        parameters = _read_parameters(args.parameters)
        algorithm = args.wrapping_algorithm or parameters.get("WrappingAlgorithm")
        if algorithm not in _ALGORITHMS:
            raise ByokCommandError(
                "the parameters file does not say which wrapping algorithm it was made for: "
                "pass --wrapping-algorithm (the one given to GetParametersForImport)"
            )
        summary = {"KeyId": parameters.get("KeyId"), "WrappingAlgorithm": algorithm}
    else:
        if args.endpoint_url is None or args.key_id is None or args.token_out is None:
            raise ByokCommandError(
                "give --parameters, or --endpoint-url, --key-id and --token-out to fetch them"
            )
        algorithm = args.wrapping_algorithm or _DEFAULT_ALGORITHM
        parameters = _get_parameters(_client(args), args.key_id, algorithm, args.wrapping_key_spec)
        _write(args.token_out, parameters["ImportToken"])
        summary = {
            "KeyId": parameters["KeyId"],
            "WrappingAlgorithm": algorithm,
            "WrappingKeySpec": args.wrapping_key_spec,
            "ParametersValidTo": _timestamp(parameters["ParametersValidTo"]),
            "ImportTokenFile": str(args.token_out),
        }
    _write(args.out, _wrapped(parameters["PublicKey"], algorithm, material))
    summary["EncryptedKeyMaterialFile"] = str(args.out)
    print(json.dumps(summary, indent=2))
    return 0


def _read_parameters(path: Path) -> dict[str, Any]:
    """A saved GetParametersForImport response: PublicKey and ImportToken in base64."""
    try:
        raw = json.loads(path.read_text())
        parameters: dict[str, Any] = dict(raw)
        parameters["PublicKey"] = base64.b64decode(raw["PublicKey"], validate=True)
        if "ImportToken" in raw:
            parameters["ImportToken"] = base64.b64decode(raw["ImportToken"], validate=True)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ByokCommandError(
            f"{path} is not a GetParametersForImport response (JSON with a base64 PublicKey): "
            f"{error}"
        ) from None
    return parameters


def read_key_file(path: Path) -> bytes:
    """The key material in a file; a PEM private key becomes PKCS#8 DER, anything else is
    taken byte for byte."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ByokCommandError(f"cannot read {path}: {error.strerror}") from None
    if not data.lstrip().startswith(b"-----BEGIN"):
        return data
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ByokCommandError(f"{path} is PEM but not an unencrypted private key") from None
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _wrapped(public_key: bytes, algorithm: str, material: bytes) -> bytes:
    from strongroom.kms.keystores.wrapping import wrap

    try:
        return wrap(public_key, algorithm, material)
    except ValueError as error:
        raise ByokCommandError(
            f"cannot wrap the key file with {algorithm}: {error} (RSAES_OAEP_* holds only small "
            "material; use RSA_AES_KEY_WRAP_SHA_256 for private keys)"
        ) from None


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as error:
        raise ByokCommandError(f"cannot write {path}: {error.strerror}") from None


# --- byok import -----------------------------------------------------------------------------


def _import(args: argparse.Namespace) -> int:
    material = read_key_file(args.key_file)
    expiry = _expiry(args)
    kms = _client(args)
    algorithm = args.wrapping_algorithm or _DEFAULT_ALGORITHM
    parameters = _get_parameters(kms, args.key_id, algorithm, args.wrapping_key_spec)
    request: dict[str, Any] = {
        "KeyId": args.key_id,
        "ImportToken": parameters["ImportToken"],
        "EncryptedKeyMaterial": _wrapped(parameters["PublicKey"], algorithm, material),
        **expiry,
    }
    for option, member in (
        ("import_type", "ImportType"),
        ("key_material_id", "KeyMaterialId"),
        ("description", "KeyMaterialDescription"),
    ):
        if getattr(args, option) is not None:
            request[member] = getattr(args, option)
    imported = _call("ImportKeyMaterial", lambda: kms.import_key_material(**request))
    metadata = _call("DescribeKey", lambda: kms.describe_key(KeyId=args.key_id))["KeyMetadata"]
    result: dict[str, object] = {
        "KeyId": imported["KeyId"],
        "KeyMaterialId": imported.get("KeyMaterialId"),
        "KeyState": metadata["KeyState"],
        "ExpirationModel": expiry["ExpirationModel"],
    }
    if "ValidTo" in expiry:
        result["ValidTo"] = expiry["ValidTo"].isoformat()
    print(json.dumps(result, indent=2))
    return 0


def _expiry(args: argparse.Namespace) -> dict[str, Any]:
    if args.expires is None and args.valid_to is None:
        return {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}
    if args.expires is not None:
        match = _DURATION.fullmatch(args.expires)
        if match is None:
            raise ByokCommandError(f"--expires {args.expires!r}: give a duration like 90d, 12h")
        delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        valid_to = datetime.now(UTC) + delta
    else:
        try:
            valid_to = datetime.fromisoformat(args.valid_to.replace("Z", "+00:00"))
        except ValueError:
            raise ByokCommandError(
                f"--valid-to {args.valid_to!r} is not an ISO 8601 time"
            ) from None
        if valid_to.tzinfo is None:
            valid_to = valid_to.replace(tzinfo=UTC)
    return {"ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": valid_to}


# --- the KMS API -----------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> Any:
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    try:
        session = botocore.session.Session(profile=args.profile)
        region = args.region or session.get_config_variable("region")
        if not region:
            raise ByokCommandError(
                "no AWS region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or use a "
                "profile with a region"
            )
        if session.get_credentials() is None:
            raise ByokCommandError(
                "no AWS credentials: pass --profile, set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_SHARED_CREDENTIALS_FILE (the server writes one in "
                "<data-dir>/aws/credentials)"
            )
        config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60)
        return session.create_client(
            "kms", endpoint_url=args.endpoint_url, region_name=region, config=config
        )
    except (BotoCoreError, ValueError) as error:
        raise ByokCommandError(str(error)) from None


def _get_parameters(kms: Any, key_id: str, algorithm: str, spec: str) -> dict[str, Any]:
    response: dict[str, Any] = _call(
        "GetParametersForImport",
        lambda: kms.get_parameters_for_import(
            KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec
        ),
    )
    return response


def _call(operation: str, request: Callable[[], Any]) -> Any:
    """One API call; AWS errors and connection failures become a :class:`ByokCommandError`."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return request()
    except ClientError as error:
        details = error.response.get("Error", {})
        code = details.get("Code", "Unknown")
        raise ByokCommandError(
            f"{operation} failed: {code}: {details.get('Message', '')}"
        ) from None
    except BotoCoreError as error:
        raise ByokCommandError(f"{operation} failed: {error}") from None


def _timestamp(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value
