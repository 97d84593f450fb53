from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.kms.app import initialize, open_data_dir
from strongroom.kms.config import ConfigError, Settings


def test_opening_a_directory_that_is_not_a_data_dir_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a Strongroom data directory"):
        open_data_dir(Settings(data_dir=tmp_path / "absent"))
    assert not (tmp_path / "absent").exists()


def test_initialize_is_idempotent_and_the_default_region_may_change(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    first, issued = initialize(settings)
    assert issued is not None and issued.user_name == "admin"
    first.db.engine.dispose()
    again, issued_again = initialize(settings)
    again.db.engine.dispose()
    assert issued_again is None
    assert [a.account_id for a in again.admin.list_accounts()] == [issued.account_id]
    # Every region is served: another default region opens the same data, and the region of
    # the first start stays recorded (migrations give it to data from before regions).
    other = open_data_dir(Settings(data_dir=tmp_path / "d", region="eu-west-1"))
    try:
        with other.db.read() as tx:
            assert tx.meta.get("region") == "us-east-1"
    finally:
        other.db.engine.dispose()
