"""rotate-root-key of an HSM root key (SoftHSM2): a new key generated in the token, or another.

The data directory runs on a real token from the start; the quorum rotates it to a new key
label (the new key generated in the token with the first key's attributes), then to a key in
another token. After each, the configuration names the new key, a start with the old label is
refused, and a fresh open unseals what was sealed before.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from strongroom.kms.app import initialize, open_data_dir
from strongroom.kms.audit.store import AuditChain
from strongroom.kms.config import ConfigError, Settings
from strongroom.kms.domain.clock import ManualClock
from strongroom.kms.governance.errors import GovernanceError
from strongroom.kms.governance.operators import raw_public_key
from strongroom.kms.governance.quorum import Quorum
from strongroom.kms.keystores.pkcs11 import TokenConnection
from strongroom.kms.service.credentials import CredentialCache
from strongroom.kms.storage.identity import IdentityRepository
from tests.support.softhsm import SoftHsmToken, create_token
from tests.unit.governance.helpers import new_key

OPERATORS = {name: new_key() for name in ("ann", "bob")}


def _settings(data_dir: Path, token: SoftHsmToken, pin_file: Path) -> Settings:
    pin_file.write_text(token.pin + "\n")
    pin_file.chmod(0o600)
    return Settings(
        data_dir=data_dir,
        root_key="pkcs11",
        hsm_module=token.module,
        hsm_token_label=token.label,
        hsm_key_label="root-v1",
        hsm_pin_file=str(pin_file),
    ).validated()


def _rotate(settings: Settings, params: dict[str, str]) -> dict[str, object]:
    """Propose, approve (M=2) and execute in a process that opened the data directory."""
    clock = ManualClock()
    data = open_data_dir(settings, clock)
    try:
        chain = AuditChain(data.store, "us-east-1", clock.now)
        quorum = Quorum(data.governance_env(), chain, clock)
        keys = OPERATORS
        if quorum.roster()[0] is None:
            quorum.initialise(2, [(n, raw_public_key(k.public_key())) for n, k in keys.items()])
        status = quorum.propose(
            proposer="ann",
            action="rotate-root-key",
            parameters=params,
            justification="new HSM key",
            sign=keys["ann"].sign,
        )
        pid = status.proposal.proposal_id
        quorum.approve(pid, "bob", keys["bob"].sign(status.message))
        return dict(quorum.execute(pid, "bob", keys["bob"].sign(status.message)).summary)
    finally:
        data.db.engine.dispose()
        data.store.close()


def _secret_opens(settings: Settings, access_key_id: str, secret: str) -> bool:
    data = open_data_dir(settings)
    try:
        found = CredentialCache(IdentityRepository(data.db), data.store).lookup(access_key_id)
        return found is not None and found.secret_bytes() == secret.encode()
    finally:
        data.db.engine.dispose()
        data.store.close()


def test_an_hsm_root_key_rotates_to_a_new_label_generated_in_the_token(
    tmp_path: Path, softhsm_token: SoftHsmToken
) -> None:
    settings = _settings(tmp_path / "d", softhsm_token, tmp_path / "pin")
    data, issued = initialize(settings)
    assert issued is not None
    data.db.engine.dispose()
    data.store.close()

    with pytest.raises(GovernanceError, match="is the root key in force"):
        _rotate(settings, {"keyLabel": "root-v1"})
    summary = _rotate(settings, {"keyLabel": "root-v2"})
    assert summary["previousRootKey"] == "pkcs11:root-v1"
    assert summary["rootKey"] == "pkcs11:root-v2"
    assert isinstance(summary["rewrappedSecrets"], int)
    assert summary["rewrappedSecrets"] >= 3  # access key, audit signing key, fingerprint key
    config = tomllib.loads((tmp_path / "d" / "strongroom.toml").read_text())
    assert config["hsm_key_label"] == "root-v2"
    assert config["hsm_token_label"] == softhsm_token.label
    assert softhsm_token.pin not in (tmp_path / "d" / "strongroom.toml").read_text()

    with pytest.raises(ConfigError, match=r"sealed under root key 'pkcs11:root-v2'.*interrupted"):
        open_data_dir(settings)  # a configuration still naming the old key
    rotated = replace(settings, hsm_key_label="root-v2")
    assert _secret_opens(rotated, issued.access_key_id, issued.secret_access_key)

    # The new key was generated in the token: LOCAL, never extractable (checked at open too).
    connection = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    try:
        key = connection.find_aes_key("root-v2")
        assert key is not None
        attrs = connection.attributes(key)
        assert attrs.local and attrs.never_extractable and attrs.sensitive
        assert not attrs.extractable
    finally:
        connection.close()


def test_an_hsm_root_key_rotates_into_another_token(
    tmp_path: Path, softhsm_token: SoftHsmToken
) -> None:
    settings = _settings(tmp_path / "d", softhsm_token, tmp_path / "pin")
    data, issued = initialize(settings)
    assert issued is not None
    data.db.engine.dispose()
    data.store.close()
    other = create_token("rot")  # same PIN source (the PIN file names the same PIN)

    summary = _rotate(settings, {"keyLabel": "root-v2", "tokenLabel": other.label})
    assert summary["rootKey"] == "pkcs11:root-v2"
    config = tomllib.loads((tmp_path / "d" / "strongroom.toml").read_text())
    assert (config["hsm_token_label"], config["hsm_key_label"]) == (other.label, "root-v2")
    moved = replace(settings, hsm_token_label=other.label, hsm_key_label="root-v2")
    assert _secret_opens(moved, issued.access_key_id, issued.secret_access_key)
