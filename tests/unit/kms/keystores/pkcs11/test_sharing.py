"""The driver under concurrency: 8 threads, a second (spawned) process, a forked child."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from strongroom.kms.keystores.pkcs11 import TokenConnection, load_module
from tests.support.softhsm import SoftHsmToken

ROUNDS = 200


def _worker(conn: TokenConnection, label: str, index: int) -> int:
    key = conn.find_aes_key(label)
    assert key is not None
    ok = 0
    for n in range(ROUNDS):
        iv = index.to_bytes(4, "big") + n.to_bytes(8, "big")
        message = f"thread {index} message {n}".encode() * 10
        sealed = conn.gcm_encrypt(key, iv, message, iv)
        if conn.gcm_decrypt(key, iv, sealed, iv) == message:
            ok += 1
    return ok


@pytest.mark.parametrize("max_sessions", [8, 1])
def test_eight_threads_gcm_concurrently(softhsm_token: SoftHsmToken, max_sessions: int) -> None:
    conn = TokenConnection.open(
        softhsm_token.module, softhsm_token.label, softhsm_token.pin, max_sessions=max_sessions
    )
    try:
        conn.generate_aes_key("threads", key_id=b"t")
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: _worker(conn, "threads", i), range(8)))
        assert results == [ROUNDS] * 8
    finally:
        conn.close()


def _child(module: str, label: str, pin: str, sealed: bytes, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    conn = TokenConnection.open(module, label, pin)
    key = conn.find_aes_key("cross")
    assert key is not None
    opened = conn.gcm_decrypt(key, bytes(12), sealed, b"from parent")
    ok = _worker(conn, "cross", 99)
    answer = conn.gcm_encrypt(key, bytes(12), b"from child", b"")
    conn.close()
    queue.put((opened, ok, answer))


def test_spawned_process_uses_the_same_token_concurrently(softhsm_token: SoftHsmToken) -> None:
    conn = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    try:
        key = conn.generate_aes_key("cross", key_id=b"c")
        sealed = conn.gcm_encrypt(key, bytes(12), b"hello child", b"from parent")
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(
            target=_child,
            args=(softhsm_token.module, softhsm_token.label, softhsm_token.pin, sealed, queue),
        )
        child.start()
        assert _worker(conn, "cross", 1) == ROUNDS  # while the child works too
        opened, ok, answer = queue.get(timeout=60)
        child.join(30)
        assert child.exitcode == 0
        assert opened == b"hello child" and ok == ROUNDS
        assert conn.gcm_decrypt(key, bytes(12), answer, b"") == b"from child"
        # The child's logout did not log this process out.
        assert conn.gcm_decrypt(key, bytes(12), sealed, b"from parent") == b"hello child"
    finally:
        conn.close()


def test_forked_child_reinitialises_and_logs_in_itself(softhsm_token: SoftHsmToken) -> None:
    conn = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    try:
        key = conn.generate_aes_key("forked", key_id=b"f")
        sealed = conn.gcm_encrypt(key, bytes(12), b"before fork", b"")
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            code = 1
            try:
                child = TokenConnection.open(
                    softhsm_token.module, softhsm_token.label, softhsm_token.pin
                )
                found = child.find_aes_key("forked")
                if found is not None:
                    os.write(write, child.gcm_decrypt(found, bytes(12), sealed, b""))
                    code = 0
            finally:
                os._exit(code)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert os.read(read, 100) == b"before fork"
        os.close(read)
        assert conn.gcm_decrypt(key, bytes(12), sealed, b"") == b"before fork"
    finally:
        conn.close()


def test_closing_from_many_threads_logs_out_once(softhsm_token: SoftHsmToken) -> None:
    keeper = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    closing = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    try:
        key = keeper.generate_aes_key("kept", key_id=b"k")
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: closing.close(), range(8)))
        # One close released one user of the shared login: the process is still logged in.
        module = load_module(softhsm_token.module)
        with module.find_token(softhsm_token.label).open() as probe:
            assert module.user_logged_in(probe.handle)
        sealed = keeper.gcm_encrypt(key, bytes(12), b"k", b"")
        assert keeper.gcm_decrypt(key, bytes(12), sealed, b"") == b"k"
    finally:
        keeper.close()
