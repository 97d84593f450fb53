"""Model-driven fuzzing: every served operation, random requests, never a 5xx.

For each operation of the registry (AWS's model and Strongroom's extensions), Hypothesis draws
request bodies from the operation's input shape (tests/support/fuzz_requests.py) and sends them,
signed, over raw HTTP to a live server of its own. Every answer must be 2xx or 4xx, with the
AWS JSON 1.1 content type; every error must be the AWS error shape, ``{"__type", "message"}``
(no ``message`` where AWS sends none), with a code of the one error hierarchy. Bounded and
seeded: a fixed number of examples per operation, derandomized, so a run is repeatable and
takes about a minute.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.kms.errors import KmsError
from strongroom.kms.service.admin import IssuedAccessKey
from strongroom.kms.service.registry import EXTENSIONS, OPERATIONS
from tests.support.fuzz_requests import Kind, Pool, Strategies, input_shape
from tests.support.servers import in_process_server

EXAMPLES_PER_OPERATION = 20
CONTENT_TYPE = "application/x-amz-json-1.1"


def _codes(cls: type[KmsError]) -> set[str]:
    return {cls.__name__}.union(*(_codes(sub) for sub in cls.__subclasses__()))


ERROR_CODES = _codes(KmsError)


class SignedSender:
    """Signs a body as botocore would and POSTs it; reconnects if the server closed."""

    def __init__(self, endpoint: str, key: IssuedAccessKey) -> None:
        self._endpoint = endpoint
        self._credentials = Credentials(key.access_key_id, key.secret_access_key)
        host, port = endpoint.removeprefix("http://").split(":")
        self._conn = http.client.HTTPConnection(host, int(port), timeout=60)

    def post(self, operation: str, body: bytes) -> tuple[int, str, bytes]:
        request = AWSRequest(
            method="POST",
            url=self._endpoint + "/",
            data=body,
            headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": f"TrentService.{operation}"},
        )
        SigV4Auth(self._credentials, "kms", "us-east-1").add_auth(request)
        try:
            self._conn.request("POST", "/", body=body, headers=dict(request.headers.items()))
            response = self._conn.getresponse()
        except (ConnectionError, http.client.HTTPException):
            self._conn.close()
            self._conn.request("POST", "/", body=body, headers=dict(request.headers.items()))
            response = self._conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()

    def close(self) -> None:
        self._conn.close()


KINDS: tuple[dict[str, str], ...] = (
    {},
    {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
    {"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"},
    {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
    {"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"},
    {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
    {"KeySpec": "ML_KEM_768", "KeyUsage": "ENCAPSULATE_DECAPSULATE"},
    {"Origin": "EXTERNAL"},
)
ALGORITHM_LISTS = (
    "EncryptionAlgorithms",
    "SigningAlgorithms",
    "MacAlgorithms",
    "KeyAgreementAlgorithms",
    "EncapsulationAlgorithms",
)


def _ciphertexts(kms: Any, meta: dict[str, Any]) -> tuple[bytes, ...]:
    key_id, usage = meta["KeyId"], meta["KeyUsage"]
    if meta["KeySpec"] == "SYMMETRIC_DEFAULT" and meta["KeyState"] == "Enabled":
        return (
            kms.encrypt(KeyId=key_id, Plaintext=b"p")["CiphertextBlob"],
            kms.encrypt(KeyId=key_id, Plaintext=b"c", EncryptionContext={"a": "b"})[
                "CiphertextBlob"
            ],
        )
    if usage == "ENCRYPT_DECRYPT" and meta["KeySpec"].startswith("RSA"):
        return (
            kms.encrypt(KeyId=key_id, Plaintext=b"r", EncryptionAlgorithm="RSAES_OAEP_SHA_256")[
                "CiphertextBlob"
            ],
        )
    return ()


def _make_pool(kms: Any) -> Pool:
    kinds = []
    for n, arguments in enumerate(KINDS):
        meta = kms.create_key(**arguments)["KeyMetadata"]
        alias = f"alias/fuzz-pool-{n}"
        kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
        algorithms = tuple(a for name in ALGORITHM_LISTS for a in meta.get(name, ()))
        refs = (meta["KeyId"], meta["Arn"], alias)
        kinds.append(Kind(refs, _ciphertexts(kms, meta), algorithms))
    symmetric = kinds[0].refs[0]
    account = kms.describe_key(KeyId=symmetric)["KeyMetadata"]["AWSAccountId"]
    admin = f"arn:aws:iam::{account}:user/admin"
    grant = kms.create_grant(KeyId=symmetric, GranteePrincipal=admin, Operations=["Decrypt"])
    policy = kms.get_key_policy(KeyId=symmetric, PolicyName="default")["Policy"]
    return Pool(
        kinds=tuple(kinds),
        principals=(admin, f"arn:aws:iam::{account}:root", "arn:aws:iam::111122223333:role/x"),
        grant_ids=(grant["GrantId"],),
        policies=(policy,),
    )


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SignedSender, Pool]]:
    directory: Path = tmp_path_factory.mktemp("fuzz") / "data"
    with in_process_server(directory) as server:
        pool = _make_pool(server.client())
        sender = SignedSender(server.endpoint, server.admin_key)
        yield sender, pool
        sender.close()


def _check_answer(operation: str, body: bytes, status: int, content_type: str, raw: bytes) -> None:
    shown = body[:300]
    assert status < 500, f"{operation} {shown!r} -> {status} {raw[:300]!r}"
    assert content_type == CONTENT_TYPE, (operation, content_type)
    answer = json.loads(raw)
    assert isinstance(answer, dict), (operation, raw[:300])
    if status == 200:
        return
    assert 400 <= status < 500, (operation, status)
    # The error mapping's shape: the code, and a message unless AWS sends none.
    assert set(answer) in ({"__type", "message"}, {"__type"}), (operation, answer)
    assert answer["__type"] in ERROR_CODES, (operation, answer)
    assert answer.get("message", "x") and isinstance(answer.get("message", ""), str), answer


def test_the_pool_reaches_past_validation(fuzz_target: tuple[SignedSender, Pool]) -> None:
    """The pool's values are real: a valid request built from them succeeds. (Runs before the
    fuzzing, which may disable or schedule the deletion of the pool's keys.)"""
    sender, pool = fuzz_target
    body = json.dumps(
        {
            "CiphertextBlob": base64.b64encode(pool.ciphertexts[0]).decode(),
            "KeyId": pool.key_refs[0],
        }
    ).encode()
    status, _, raw = sender.post("Decrypt", body)
    assert status == 200, raw
    assert base64.b64decode(json.loads(raw)["Plaintext"]) == b"p"


SERVED = sorted(OPERATIONS) + sorted(EXTENSIONS)


@pytest.mark.parametrize("operation", SERVED)
def test_random_requests_never_get_a_server_error(
    fuzz_target: tuple[SignedSender, Pool], operation: str
) -> None:
    sender, pool = fuzz_target
    members = EXTENSIONS[operation][1] if operation in EXTENSIONS else None
    bodies = Strategies.body(pool, input_shape(operation, members))

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        body = data.draw(bodies, label="body")
        _check_answer(operation, body, *sender.post(operation, body))

    run()
