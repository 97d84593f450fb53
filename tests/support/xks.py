"""AWS KMS's side of the XKS proxy API: requests signed with botocore's SigV4 signer for
service ``kms-xks-proxy``, as the XKS proxy management fleet signs them."""

from __future__ import annotations

import base64
import http.client
import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from strongroom import botocore_data
from strongroom.kms.service.admin import IssuedAccessKey
from tests.support import cli
from tests.support.hsm_clusters import Cluster, register_cluster
from tests.support.servers import InProcessServer

SERVICE = "kms-xks-proxy"
AWS_REGION = "eu-west-1"  # AWS KMS signs with its own region, not Strongroom's


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def metadata(operation: str = "Encrypt", **extra: str) -> dict[str, str]:
    return {
        "awsPrincipalArn": "arn:aws:iam::111122223333:user/Alice",
        "kmsKeyArn": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "kmsOperation": operation,
        "kmsRequestId": str(uuid.uuid4()),
        **extra,
    }


@dataclass
class XksClient:
    endpoint: str  # http://127.0.0.1:port
    uri_path: str  # /xks/cks-.../kms/xks/v1
    access_key_id: str
    secret: str
    region: str = AWS_REGION
    # A keep-alive connection to use (pinned to one server worker); else one per call.
    connection: http.client.HTTPConnection | None = None

    @classmethod
    def from_configuration(cls, endpoint: str, configuration: dict[str, Any]) -> XksClient:
        credential = configuration["XksProxyAuthenticationCredential"]
        return cls(
            endpoint,
            configuration["XksProxyUriPath"],
            credential["AccessKeyId"],
            credential["RawSecretAccessKey"],
        )

    def call(
        self, suffix: str, body: Any, *, method: str = "POST", sign: bool = True
    ) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) of one request to ``<uri path>/<suffix>``."""
        url = f"{self.endpoint}{self.uri_path}/{suffix}"
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = AWSRequest(
            method=method, url=url, data=data, headers={"Content-Type": "application/json"}
        )
        if sign:
            credentials = Credentials(self.access_key_id, self.secret)
            SigV4Auth(credentials, SERVICE, self.region).add_auth(request)
        parts = urlsplit(url)
        connection = self.connection or http.client.HTTPConnection(parts.netloc, timeout=30)
        try:
            connection.request(method, parts.path, body=data, headers=dict(request.headers))
            response = connection.getresponse()
            payload = response.read()
        finally:
            if self.connection is None:
                connection.close()
        return response.status, json.loads(payload) if payload else {}

    def health(self) -> tuple[int, dict[str, Any]]:
        meta = {"kmsRequestId": str(uuid.uuid4()), "kmsOperation": "KmsHealthCheck"}
        return self.call("health", {"requestMetadata": meta})

    def key_metadata(self, key_id: str) -> tuple[int, dict[str, Any]]:
        return self.call(f"keys/{key_id}/metadata", {"requestMetadata": metadata("DescribeKey")})

    def encrypt(
        self, key_id: str, plaintext: bytes, aad: bytes | None = None, *, cdiv: bool = False
    ) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {
            "requestMetadata": metadata("Encrypt"),
            "plaintext": b64(plaintext),
            "encryptionAlgorithm": "AES_GCM",
        }
        if aad is not None:
            body["additionalAuthenticatedData"] = b64(aad)
        if cdiv:
            body["ciphertextDataIntegrityValueAlgorithm"] = "SHA_256"
        return self.call(f"keys/{key_id}/encrypt", body)

    def decrypt(
        self, key_id: str, encrypted: dict[str, Any], aad: bytes | None = None, **changes: Any
    ) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {
            "requestMetadata": metadata("Decrypt"),
            "ciphertext": encrypted["ciphertext"],
            "initializationVector": encrypted["initializationVector"],
            "authenticationTag": encrypted["authenticationTag"],
            "encryptionAlgorithm": "AES_GCM",
        }
        if aad is not None:
            body["additionalAuthenticatedData"] = b64(aad)
        body.update(changes)
        return self.call(f"keys/{key_id}/decrypt", body)


@dataclass
class Tenant:
    kms: Any
    store_id: str
    cluster: Cluster
    xks: XksClient
    key_id: str
    access_key: IssuedAccessKey

    def extended_kms(self, endpoint: str) -> Any:
        """A boto3 KMS client that knows Strongroom's extension operations."""
        session = botocore.session.Session()
        session.set_config_variable("data_path", str(botocore_data.PATH))
        return boto3.Session(botocore_session=session).client(
            "kms",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key.access_key_id,
            aws_secret_access_key=self.access_key.secret_access_key,
            config=Config(retries={"max_attempts": 1}),
        )


def admin(server: InProcessServer, *argv: str) -> Any:
    status, out, err = cli.run("admin", "--data-dir", str(server.data_dir), *argv)
    assert status == 0, err
    return json.loads(out) if out.strip() else None


def make_tenant(server: InProcessServer, key: IssuedAccessKey) -> Tenant:
    kms = server.client(key)
    cluster = register_cluster(server.data_dir, hsms=2)
    store_id = kms.create_custom_key_store(
        CustomKeyStoreName=f"xks-{uuid.uuid4().hex[:8]}",
        CloudHsmClusterId=cluster.cluster_id,
        TrustAnchorCertificate=cluster.trust_anchor,
        KeyStorePassword=cluster.password,
    )["CustomKeyStoreId"]
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    configuration = admin(server, "xks", "create-credential", "--custom-key-store", store_id)
    external = admin(server, "xks", "create-key", "--custom-key-store", store_id)
    xks = XksClient.from_configuration(server.endpoint, configuration)
    return Tenant(kms, store_id, cluster, xks, external["XksKeyId"], key)
