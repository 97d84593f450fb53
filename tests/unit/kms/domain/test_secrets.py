from __future__ import annotations

from strongroom.kms.domain.secrets import Secret


def test_secret_is_never_shown() -> None:
    secret = Secret(b"hunter2-hunter2")
    for text in (repr(secret), str(secret), f"{secret}", repr([secret])):
        assert "hunter2" not in text
    assert secret.reveal() == b"hunter2-hunter2"
    assert secret == Secret(b"hunter2-hunter2")
    assert secret != Secret(b"other")
