"""External key stores (custom key stores of type EXTERNAL_KEY_STORE): the proxy settings.

A KMS key in an external key store has two backing keys: key material Strongroom generates and
keeps (wrapped under the root key, like any key's), and an *external key* that only the
customer's XKS proxy can use. Every encryption is done by both, one after the other (AWS's
"double encryption"), so neither Strongroom alone nor the holder of the external key alone can
decrypt. What Strongroom knows of the proxy is here; its secret is kept sealed elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# As the service model writes them (XksProxyUriEndpointType, XksProxyUriPathType, ...), except
# that the endpoint may carry a port: AWS calls port 443 only, Strongroom calls the one named.
URI_ENDPOINT_PATTERN = re.compile(r"https://[a-zA-Z0-9.-]+(:[0-9]{1,5})?")
URI_PATH_PATTERN = re.compile(r"(/[a-zA-Z0-9/_-]+/kms/xks/v\d{1,2})|(/kms/xks/v\d{1,2})")
ACCESS_KEY_ID_PATTERN = re.compile(r"[A-Z2-7]{20,30}")
SECRET_PATTERN = re.compile(r"[a-zA-Z0-9/+=]{43,64}")
XKS_KEY_ID_PATTERN = re.compile(r"[a-zA-Z0-9-_.]{1,128}")


class CustomKeyStoreType(StrEnum):
    AWS_CLOUDHSM = "AWS_CLOUDHSM"
    EXTERNAL_KEY_STORE = "EXTERNAL_KEY_STORE"


class XksProxyConnectivity(StrEnum):
    PUBLIC_ENDPOINT = "PUBLIC_ENDPOINT"
    VPC_ENDPOINT_SERVICE = "VPC_ENDPOINT_SERVICE"


@dataclass(frozen=True, slots=True)
class XksProxySettings:
    """Where the proxy is and which credential signs for it (the secret is not here)."""

    uri_endpoint: str
    uri_path: str
    connectivity: XksProxyConnectivity
    access_key_id: str

    @property
    def uri(self) -> str:
        return self.uri_endpoint + self.uri_path

    def listing(self) -> dict[str, object]:
        """DescribeCustomKeyStores' XksProxyConfiguration: never the secret."""
        return {
            "Connectivity": self.connectivity.value,
            "AccessKeyId": self.access_key_id,
            "UriEndpoint": self.uri_endpoint,
            "UriPath": self.uri_path,
        }


@dataclass(frozen=True, slots=True)
class XksTransport:
    """How this server reaches proxies (settings ``xks_proxy_*``): the timeout, a CA bundle for
    their certificates, ``connect_to`` (endpoint -> the URL actually dialled; http:// only
    there, for labs), and the region requests are signed for (this server's)."""

    timeout_seconds: float = 0.25
    ca_file: str = ""
    connect_to: tuple[tuple[str, str], ...] = ()
    region: str = "us-east-1"

    def dial(self, endpoint: str) -> str:
        return dict(self.connect_to).get(endpoint, endpoint)


@dataclass(frozen=True, slots=True)
class ExternalKeyMetadata:
    """What a proxy's GetKeyMetadata says of an external key."""

    key_spec: str
    key_usage: tuple[str, ...]
    key_status: str

    @property
    def usable(self) -> bool:
        """AWS's requirement: an enabled AES-256 key that encrypts and decrypts."""
        return (
            self.key_spec == "AES_256"
            and {"ENCRYPT", "DECRYPT"} <= set(self.key_usage)
            and self.key_status == "ENABLED"
        )
