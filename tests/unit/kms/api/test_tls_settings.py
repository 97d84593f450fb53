"""TLS settings and the names a generated certificate carries."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from strongroom.kms.api.tls import self_signed, server_names
from strongroom.kms.config import ConfigError, Settings, is_loopback, load_settings


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.1.2.3", False), ("kms.example", False)],  # noqa: S104
)  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_names_for_a_host_and_extra_names() -> None:
    names, addresses = server_names("10.1.2.3", "kms.example, 192.0.2.7,kms.example")
    assert names == ["localhost", "kms.example"]
    assert [str(a) for a in addresses] == ["127.0.0.1", "::1", "10.1.2.3", "192.0.2.7"]


def test_generated_pair_covers_the_names_and_is_regenerated_for_new_ones(tmp_path: Path) -> None:
    directory = tmp_path / "tls"
    first = self_signed(directory, "127.0.0.1", "kms.example")
    assert first.generated
    assert stat.S_IMODE(first.private_key.stat().st_mode) == 0o600
    leaf = x509.load_pem_x509_certificate(first.certificate.read_bytes())
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == {"localhost", "kms.example"}
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    ca = x509.load_pem_x509_certificate(directory.joinpath("ca.pem").read_bytes())
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert leaf.issuer == ca.subject

    again = self_signed(directory, "127.0.0.1", "kms.example")
    assert not again.generated
    assert directory.joinpath("ca.pem").read_bytes() == ca.public_bytes(Encoding.PEM)
    renewed = self_signed(directory, "127.0.0.1", "other.example")
    assert renewed.generated
    assert x509.load_pem_x509_certificate(directory.joinpath("ca.pem").read_bytes()) != ca


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"tls": "acme"}, "is not 'self-signed'"),
        (
            {"tls": "self-signed", "tls_cert_file": "c.pem", "tls_key_file": "k.pem"},
            "exclude each other",
        ),
        ({"tls_cert_file": "c.pem"}, "go together"),
    ],
)
def test_inconsistent_tls_settings_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings(**values).validated()  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("1", True), ("no", False)])
def test_allow_plain_http_from_the_environment(tmp_path: Path, raw: str, value: bool) -> None:
    settings = load_settings(tmp_path, {"STRONGROOM_ALLOW_PLAIN_HTTP": raw})
    assert settings.allow_plain_http is value


def test_a_wrong_boolean_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="allow_plain_http"):
        load_settings(tmp_path, {"STRONGROOM_ALLOW_PLAIN_HTTP": "maybe"})
