"""``strongroom encrypt | decrypt | inspect`` against the in-process server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from strongroom.cli.main import main
from strongroom.envelope import InvalidMessageError
from tests.envelope.helpers import random_bytes
from tests.support.servers import InProcessServer


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_file_round_trip_and_inspect(
    kms_env: None, key_arns: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = random_bytes(300_000)
    (tmp_path / "report.pdf").write_bytes(data)
    status, _, err = run(
        capsys, "encrypt", str(tmp_path / "report.pdf"), "--key-id", key_arns[0],
        "--key-id", key_arns[1], "--context", "tenant=blue", "--suite", "unsigned",
        "--frame-length", "65536",
    )  # fmt: skip
    assert (status, err) == (0, "")
    encrypted = tmp_path / "report.pdf.encrypted"
    assert encrypted.read_bytes()[:3] == b"\x02\x04\x78"

    status, out, _ = run(capsys, "inspect", str(encrypted))
    described = json.loads(out)
    assert status == 0
    assert described["algorithm_suite"]["name"] == "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"
    assert described["encryption_context"] == {"tenant": "blue"}
    assert [k["provider_info"] for k in described["encrypted_data_keys"]] == key_arns[:2]
    assert described["frame_length"] == 65536

    encrypted.rename(tmp_path / "copy.encrypted")
    status, _, err = run(
        capsys, "decrypt", str(tmp_path / "copy.encrypted"), "--key-id", key_arns[1],
        "--context", "tenant=blue",
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert (tmp_path / "copy").read_bytes() == data


def test_directories_recursively_with_one_data_key(
    kms_env: None,
    server: InProcessServer,
    key_arns: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tree = tmp_path / "tree"
    files = {Path("a.txt"): b"a", Path("sub/b.bin"): random_bytes(5000), Path("sub/x/c"): b""}
    for name, content in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(content)
    with pytest.raises(SystemExit, match="2"):  # argparse: --key-id is required
        run(capsys, "encrypt", str(tree), "-o", str(tmp_path / "enc"))
    status, _, err = run(
        capsys, "encrypt", str(tree), "-o", str(tmp_path / "enc"), "--key-id", key_arns[0]
    )
    assert status == 2 and "is a directory (use -r)" in err

    before = _count(server, "GenerateDataKey")
    status, _, err = run(
        capsys, "encrypt", "-r", str(tree), "-o", str(tmp_path / "enc"), "--key-id", key_arns[0]
    )
    assert (status, err) == (0, "")
    assert _count(server, "GenerateDataKey") - before == 1  # the cache served three files
    written = (p for p in (tmp_path / "enc").rglob("*") if p.is_file())
    assert sorted(p.relative_to(tmp_path / "enc") for p in written) == [
        Path("a.txt.encrypted"),
        Path("sub/b.bin.encrypted"),
        Path("sub/x/c.encrypted"),
    ]
    before = _count(server, "Decrypt")
    status, _, err = run(
        capsys, "decrypt", "-r", str(tmp_path / "enc"), "-o", str(tmp_path / "dec"), "--discovery"
    )
    assert (status, err) == (0, "")
    assert _count(server, "Decrypt") - before == 1  # one data key, decrypted once
    for name, content in files.items():
        assert (tmp_path / "dec" / name).read_bytes() == content


def _count(server: InProcessServer, operation: str) -> int:
    server.audit.flush()
    return sum(1 for event in server.audit.events if event.operation == operation)


def test_errors_are_one_line_with_status_2(
    kms_env: None, key_arns: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "f"
    plain.write_bytes(random_bytes(10_000))
    assert run(capsys, "encrypt", str(plain), "--key-id", key_arns[0], "-c", "t=1")[0] == 0
    encrypted = tmp_path / "f.encrypted"
    out = tmp_path / "out"

    def fails(*argv: str) -> str:
        status, _, err = run(capsys, *argv)
        assert status == 2
        assert err.startswith("strongroom: ") and err.count("\n") == 1
        return err

    target = ("-o", str(out))
    assert "allowed keys are" in fails("decrypt", str(encrypted), *target, "--key-id", key_arns[2])
    assert "no pair t=2" in fails("decrypt", str(encrypted), *target, "--discovery", "-c", "t=2")
    assert "exists" in fails("encrypt", str(plain), "--key-id", key_arns[0])
    assert "KEY=VALUE" in fails("encrypt", str(plain), "--key-id", key_arns[0], "-c", "novalue")
    assert "--key-id (strict mode) or --discovery" in fails("decrypt", str(encrypted))

    tampered = tmp_path / "tampered.encrypted"
    content = bytearray(encrypted.read_bytes())
    content[-200] ^= 1
    tampered.write_bytes(bytes(content))
    err = fails("decrypt", str(tampered), "-o", str(out), "--discovery")
    assert err == f"strongroom: {InvalidMessageError.MESSAGE}\n"
    truncated = tmp_path / "truncated.encrypted"
    truncated.write_bytes(encrypted.read_bytes()[:-150])
    err = fails("decrypt", str(truncated), "-o", str(out), "--discovery")
    assert err == f"strongroom: {InvalidMessageError.MESSAGE}\n"
    # No partial plaintext is left behind, not even a temporary file.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "f",
        "f.encrypted",
        "tampered.encrypted",
        "truncated.encrypted",
    ]


def test_stdin_to_stdout_with_progress(kms_env: None, key_arns: list[str], tmp_path: Path) -> None:
    data = random_bytes(2 * 1024 * 1024 + 3)
    command = [sys.executable, "-m", "strongroom.cli.main"]
    encrypted = subprocess.run(
        [*command, "encrypt", "--key-id", key_arns[0], "--progress", "--frame-length", "4096"],
        input=data, capture_output=True, timeout=120, env=dict(os.environ), check=True,
    )  # fmt: skip
    assert b"MiB/s" in encrypted.stderr  # the progress line, on stderr only
    decrypted = subprocess.run(
        [*command, "decrypt", "-", "-o", "-", "--key-id", key_arns[0]],
        input=encrypted.stdout, capture_output=True, timeout=120, env=dict(os.environ),
        check=True,
    )  # fmt: skip
    assert decrypted.stdout == data
    assert decrypted.stderr == b""  # no TTY, no --progress: silent


def test_decrypt_suite_choice_and_unreachable_endpoint(
    kms_env: None, key_arns: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.servers import free_port

    plain = tmp_path / "u"
    plain.write_bytes(b"unsigned")
    assert (
        run(capsys, "encrypt", str(plain), "--key-id", key_arns[0], "--suite", "unsigned")[0] == 0
    )
    args = ("decrypt", str(tmp_path / "u.encrypted"), "-o", str(tmp_path / "back"), "--discovery")
    status, _, err = run(capsys, *args, "--suite", "signed")
    assert status == 2 and "which is not accepted here" in err
    assert run(capsys, *args, "--suite", "unsigned")[0] == 0
    assert (tmp_path / "back").read_bytes() == b"unsigned"
    dead = f"http://127.0.0.1:{free_port()}"
    status, _, err = run(capsys, "encrypt", str(plain), "-o", str(tmp_path / "x"),
                         "--key-id", key_arns[0], "--endpoint-url", dead)  # fmt: skip
    assert status == 2 and err.startswith("strongroom: cannot reach the KMS")
    assert err.count("\n") == 1
