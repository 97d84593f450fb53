"""``strongroom serve --kmip-port``: every worker listens on the KMIP port (a generated
server pair in <data_dir>/kmip), and a key made through one connection is served on others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kmip.core import enums
from kmip.pie.client import ProxyKmipClient

from strongroom.kms.config import ConfigError, Settings
from tests.support.cli import run
from tests.support.kmip import make_pki, wait_listening
from tests.support.servers import free_port, server_process


def test_serve_with_kmip_on_two_workers(tmp_path: Path) -> None:
    pki_dir = tmp_path / "pki"
    pki_dir.mkdir()
    pki = make_pki(pki_dir)
    data_dir = tmp_path / "data"
    port = free_port()
    args = ("--kmip-port", str(port), "--kmip-client-ca", str(pki.client_ca.pem))
    with server_process(data_dir, 2, *args):
        wait_listening(port)
        status, out, err = run("admin", "--data-dir", str(data_dir), "accounts", "list")
        assert status == 0, err
        arn = f"arn:aws:iam::{json.loads(out)[0]['AccountId']}:user/admin"
        pair = pki.client("serve-client")
        status, _, err = run(
            "admin", "--data-dir", str(data_dir), "kmip", "add-client",
            "--cert", str(pair.certificate), "--principal", arn,
        )  # fmt: skip
        assert status == 0, err
        assert (data_dir / "kmip" / "server.key").stat().st_mode & 0o777 == 0o600

        def client() -> ProxyKmipClient:
            proxy = ProxyKmipClient(
                hostname="127.0.0.1",
                port=port,
                cert=str(pair.certificate),
                key=str(pair.private_key),
                ca=str(data_dir / "kmip" / "ca.pem"),
                ssl_version="PROTOCOL_SSLv23",
                config_file=str(pki_dir / "no-pykmip.conf"),
            )
            proxy.open()
            return proxy

        maker = client()
        uid = maker.create(enums.CryptographicAlgorithm.AES, 256)
        material = maker.get(uid).value
        maker.close()
        for _ in range(6):  # new connections land on either worker
            reader = client()
            try:
                assert reader.get(uid).value == material
            finally:
                reader.close()


@pytest.mark.parametrize(
    ("overrides", "phrase"),
    [
        ({"kmip_port": 5696}, "kmip_client_ca_file"),
        ({"kmip_port": 8080, "kmip_client_ca_file": "ca.pem"}, "HTTP port"),
        ({"kmip_port": 5696, "kmip_client_ca_file": "ca.pem", "kmip_cert_file": "c"}, "together"),
    ],
    ids=["no-client-ca", "same-port", "cert-without-key"],
)
def test_kmip_settings_are_checked(overrides: dict[str, object], phrase: str) -> None:
    with pytest.raises(ConfigError, match=phrase):
        Settings(**overrides).validated()  # type: ignore[arg-type]
