"""The worker's observability settings and sources (request log lines, HSM pool families)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from strongroom.kms.config import ConfigError, Settings, load_settings
from strongroom.kms.keystores.pkcs11.sessions import SessionPool
from strongroom.kms.observability import hsm_source, request_log


def test_request_lines_are_off_by_default_and_chosen_by_settings(tmp_path: Path) -> None:
    assert request_log(Settings(data_dir=tmp_path)) is None
    lines: list[bytes] = []
    log = request_log(
        load_settings(
            tmp_path,
            {"STRONGROOM_REQUEST_LOG": "text", "STRONGROOM_NODE_NAME": "kms-2.eu"},
        )
    )
    assert log is not None
    log._write = lines.append  # where the line goes (stderr in a server)
    log.request("r-1", "Encrypt", 200, "OK", 0.001)
    assert b" node=kms-2.eu " in lines[0]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REQUEST_LOG", "xml", "request_log 'xml'"),
        ("REQUEST_LOG_LEVEL", "debug", "request_log_level 'debug'"),
        ("NODE_NAME", "two words", "node_name"),
        ("NODE_NAME", "n" * 256, "node_name"),
    ],
    ids=["format", "level", "node-space", "node-long"],
)
def test_bad_request_log_settings_are_refused(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path, {f"STRONGROOM_{name}": value})


def test_hsm_families_have_one_series_per_token() -> None:
    token = f"pool-{uuid.uuid4().hex[:8]}"
    pool = SessionPool(object, 4, token)
    session = pool.take(1.0)
    assert session is not None
    families = {f.name: f for f in hsm_source()}
    assert set(families) == {
        "strongroom_hsm_sessions_in_use",
        "strongroom_hsm_sessions_idle",
        "strongroom_hsm_sessions_max",
        "strongroom_hsm_session_waits",
        "strongroom_hsm_session_timeouts",
        "strongroom_hsm_session_errors",
    }

    def value(name: str) -> float:
        (found,) = [s.value for s in families[name].samples if s.labels == {"token": token}]
        return float(found)

    assert value("strongroom_hsm_sessions_in_use") == 1
    assert value("strongroom_hsm_sessions_max") == 4
    assert value("strongroom_hsm_session_errors") == 0
    assert families["strongroom_hsm_session_waits"].type == "counter"
    pool.give(session)
