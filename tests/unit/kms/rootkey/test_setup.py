"""Choosing the root key: settings, PIN sources, and the data directory's record of its key."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from strongroom.kms.app import initialize, open_data_dir
from strongroom.kms.config import ConfigError, Settings, load_settings
from strongroom.kms.rootkey.migration import PURPOSES
from strongroom.kms.rootkey.setup import read_pin
from strongroom.kms.storage.sealed import SEALED_COLUMNS, unregistered_sealed_columns
from tests.support.softhsm import SoftHsmToken

PIN = "pin-value-31337"


def hsm_settings(data_dir: Path, token: SoftHsmToken, pin_file: Path) -> Settings:
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


def test_settings_from_toml_and_environment(tmp_path: Path) -> None:
    (tmp_path / "strongroom.toml").write_text(
        'root_key = "pkcs11"\nhsm_module = "/lib/p11.so"\nhsm_token_label = "kms"\n'
    )
    settings = load_settings(tmp_path, {"STRONGROOM_HSM_KEY_LABEL": "root-v2"})
    assert (settings.root_key, settings.hsm_module, settings.hsm_token_label) == (
        "pkcs11",
        "/lib/p11.so",
        "kms",
    )
    assert settings.hsm_key_label == "root-v2"
    assert settings.hsm_pin_env == "STRONGROOM_HSM_PIN"
    assert load_settings(tmp_path, {"STRONGROOM_ROOT_KEY": "file"}).root_key == "file"


def test_invalid_root_key_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs hsm_module"):
        Settings(root_key="pkcs11").validated()
    with pytest.raises(ConfigError, match="'file' or 'pkcs11'"):
        Settings(root_key="tpm").validated()
    (tmp_path / "strongroom.toml").write_text(f'hsm_pin = "{PIN}"\n')
    with pytest.raises(ConfigError, match="unknown setting 'hsm_pin'") as caught:
        load_settings(tmp_path, {})
    assert PIN not in str(caught.value)


def test_pin_from_a_private_file_or_the_environment(tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(PIN + "\r\n")
    pin_file.chmod(0o600)
    assert read_pin(str(pin_file), "UNUSED", {}) == PIN
    assert read_pin("", "MY_PIN", {"MY_PIN": PIN}) == PIN
    with pytest.raises(ConfigError, match="MY_PIN") as caught:
        read_pin("", "MY_PIN", {})
    pin_file.chmod(0o644)
    with pytest.raises(ConfigError, match="accessible by others") as caught:
        read_pin(str(pin_file), "UNUSED", {})
    assert PIN not in str(caught.value)


def test_every_sealed_column_is_re_wrapped_by_the_migration() -> None:
    assert unregistered_sealed_columns() == []
    assert sorted(PURPOSES) == sorted(column.table for column in SEALED_COLUMNS)


def test_fresh_data_dir_on_the_hsm_has_no_root_key_file(
    tmp_path: Path, softhsm_token: SoftHsmToken
) -> None:
    settings = hsm_settings(tmp_path / "d", softhsm_token, tmp_path / "pin")
    data, issued = initialize(settings)
    assert issued is not None
    assert not settings.root_key_path.exists()
    assert data.store.root.descriptor == "pkcs11:root-v1"
    sealed = data.store.seal_secret("p", "n", b"v")
    data.db.engine.dispose()
    data.store.close()
    # A restart finds the key by label and opens what the first start sealed.
    again = open_data_dir(settings)
    assert again.store.unseal_secret("p", "n", sealed) == b"v"
    assert [k.access_key_id for k in again.admin.list_access_keys(None)] == [issued.access_key_id]
    again.db.engine.dispose()
    again.store.close()
    with pytest.raises(ConfigError, match=r"no root\.key"):
        open_data_dir(Settings(data_dir=tmp_path / "d"))
    with pytest.raises(ConfigError, match=r"sealed under root key 'pkcs11:root-v1'.*'pkcs11:v2'"):
        open_data_dir(replace(settings, hsm_key_label="v2"))


def test_file_data_dir_with_hsm_configuration_asks_for_the_migration(
    tmp_path: Path, softhsm_token: SoftHsmToken
) -> None:
    data, _ = initialize(Settings(data_dir=tmp_path / "d"))
    data.db.engine.dispose()
    settings = hsm_settings(tmp_path / "d", softhsm_token, tmp_path / "pin")
    with pytest.raises(ConfigError, match="migrate-root-key"):
        open_data_dir(settings)


def test_hsm_configuration_on_a_missing_directory_creates_nothing(
    tmp_path: Path, softhsm_token: SoftHsmToken
) -> None:
    settings = hsm_settings(tmp_path / "absent", softhsm_token, tmp_path / "pin")
    with pytest.raises(ConfigError, match="not a Strongroom data directory"):
        open_data_dir(settings)
    assert not (tmp_path / "absent").exists()
