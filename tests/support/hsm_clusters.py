"""HSM clusters made of fresh SoftHSM2 tokens, registered in a data directory."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from strongroom.kms.app import open_data_dir
from strongroom.kms.config import load_settings
from tests.support import softhsm

_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def new_cluster_id() -> str:
    return "cluster-" + "".join(secrets.choice(_BASE32) for _ in range(11))


def trust_anchor_pem(name: str = "customer CA") -> str:
    """A self-signed CA certificate, like the customerCA.crt a cluster is initialised with."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True)
class Cluster:
    cluster_id: str
    tokens: list[softhsm.SoftHsmToken]
    trust_anchor: str

    @property
    def password(self) -> str:
        return self.tokens[0].pin


def register_cluster(data_dir: Path, hsms: int = 2, trust_anchor: str | None = None) -> Cluster:
    """``hsms`` fresh tokens (one crypto-user PIN for all), registered as one cluster."""
    tokens = [softhsm.create_token("hsm") for _ in range(hsms)]
    cluster = Cluster(new_cluster_id(), tokens, trust_anchor or trust_anchor_pem())
    opened = open_data_dir(load_settings(data_dir))
    try:
        opened.hsm_clusters.register(
            cluster.cluster_id,
            softhsm.MODULE,
            [token.label for token in tokens],
            cluster.trust_anchor,
        )
    finally:
        opened.db.engine.dispose()
    return cluster
