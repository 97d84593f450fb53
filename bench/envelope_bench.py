"""Envelope encryption of one large file: Strongroom vs aws-encryption-cli vs openssl enc.

Side by side in one run, on tmpfs: a fresh ``strongroom serve``, one KMS key, a random file
of ``--size-mib`` MiB, then for every method ``--runs`` encryptions and decryptions, each a
separate process under ``/usr/bin/time`` (wall time measured here, peak RSS from time's %M).
Every decryption is compared with the input. Methods:

- ``openssl``: ``openssl enc -aes-256-ctr`` with a raw key (no KMS, no authentication)
- ``strongroom-unsigned`` / ``strongroom-signed``: ``strongroom encrypt|decrypt``
- ``esdk-cli-unsigned`` / ``esdk-cli-signed``: ``aws-encryption-cli`` (``--frame-length
  65536``, its best in ../shared/reference/performance.md), same suites, same KMS

``--entry module`` runs ``python -m strongroom.cli.envelope`` instead of the ``strongroom``
entry point, whose imports of the server add about 0.3 s per process.

    .venv/bin/python bench/envelope_bench.py --size-mib 1024 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

from run_kms_bench import answers, free_port, read_credentials, server

BIN = Path(sys.executable).parent
TIME = Path("/usr/bin/time")
SUITES = {
    "unsigned": "AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
    "signed": "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384",
}


def make_input(path: Path, size_mib: int) -> None:
    with path.open("wb") as out:
        for _ in range(size_mib):
            out.write(os.urandom(1024 * 1024))


def same(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as x, b.open("rb") as y:
        while chunk := x.read(8 * 1024 * 1024):
            if chunk != y.read(len(chunk)):
                return False
    return True


def timed(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB, 0 if /usr/bin/time is missing) of one process."""
    prefix = [str(TIME), "-f", "%M"] if TIME.exists() else []
    started = time.perf_counter()
    result = subprocess.run(prefix + command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {result.stderr.strip()[-500:]}")
    rss = int(result.stderr.strip().splitlines()[-1]) if prefix else 0
    return wall, rss


def commands(
    method: str, key_arn: str, args: argparse.Namespace, src: Path, dst: Path, *, decrypt: bool
) -> list[str]:
    if method == "openssl":
        key, iv = "11" * 32, "22" * 16
        return [
            "openssl",
            "enc",
            "-aes-256-ctr",
            *(["-d"] if decrypt else []),
            "-K",
            key,
            "-iv",
            iv,
            "-in",
            str(src),
            "-out",
            str(dst),
        ]
    tool, suite = method.rsplit("-", 1)
    if tool == "strongroom":
        entry = (
            [str(BIN / "python"), "-m", "strongroom.cli.envelope"]
            if args.entry == "module"
            else [str(BIN / "strongroom")]
        )
        if decrypt:
            return [*entry, "decrypt", str(src), "-o", str(dst), "--key-id", key_arn, "-f"]
        return [
            *entry,
            "encrypt",
            str(src),
            "-o",
            str(dst),
            "--key-id",
            key_arn,
            "-f",
            "--suite",
            suite,
            "--frame-length",
            str(args.frame_length),
        ]
    cli = [
        str(BIN / "aws-encryption-cli"),
        "-S",
        "-i",
        str(src),
        "-o",
        str(dst),
        "--wrapping-keys",
        f"key={key_arn}",
    ]
    if decrypt:
        return [*cli, "-d"]
    frame = ["--frame-length", str(args.esdk_frame_length)] if args.esdk_frame_length else []
    return [*cli, "-e", "--algorithm", SUITES[suite], *frame]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--frame-length", type=int, default=1024 * 1024)
    parser.add_argument(
        "--esdk-frame-length", type=int, default=65536, help="0: the CLI's default (4096)"
    )
    parser.add_argument("--entry", choices=["script", "module"], default="script")
    parser.add_argument("--dir", default="/dev/shm", help="tmpfs directory for the files")
    parser.add_argument(
        "--methods",
        default="openssl,strongroom-unsigned,strongroom-signed,esdk-cli-unsigned,esdk-cli-signed",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args()
    methods = args.methods.split(",")

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="envelope-bench-") as name:
        tmp = Path(name)
        data_dir, port = tmp / "data", free_port()
        url = f"http://127.0.0.1:{port}"
        command = [
            str(BIN / "strongroom"),
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ]
        with server(command, tmp / "serve.log", lambda: answers(url + "/health")):
            creds = read_credentials(data_dir)
            env = dict(
                os.environ,
                AWS_ACCESS_KEY_ID=creds.access_key,
                AWS_SECRET_ACCESS_KEY=creds.secret_key,
                AWS_DEFAULT_REGION="us-east-1",
                AWS_ENDPOINT_URL_KMS=url,
                AWS_CONFIG_FILE="/dev/null",
                AWS_SHARED_CREDENTIALS_FILE="/dev/null",
            )
            env.pop("AWS_PROFILE", None)
            kms = boto3.client(
                "kms",
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id=creds.access_key,
                aws_secret_access_key=creds.secret_key,
            )
            key_arn = kms.create_key(Description="envelope bench")["KeyMetadata"]["Arn"]
            plain = tmp / "input.bin"
            make_input(plain, args.size_mib)
            load = os.getloadavg()[0]
            rows = []
            for run in range(args.runs):  # interleaved, so drift hits every method alike
                for method in methods:
                    enc, dec = tmp / f"{method}.enc", tmp / f"{method}.dec"
                    e_wall, e_rss = timed(
                        commands(method, key_arn, args, plain, enc, decrypt=False), env
                    )
                    d_wall, d_rss = timed(
                        commands(method, key_arn, args, enc, dec, decrypt=True), env
                    )
                    if not same(plain, dec):
                        raise RuntimeError(f"{method}: decryption differs from the input")
                    rows.append(
                        {
                            "method": method,
                            "run": run,
                            "encrypt_s": e_wall,
                            "decrypt_s": d_wall,
                            "rss_kib": max(e_rss, d_rss),
                        }
                    )
                    enc.unlink()
                    dec.unlink()
    report(rows, methods, args, load)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


def report(
    rows: list[dict[str, Any]], methods: list[str], args: argparse.Namespace, load: float
) -> None:
    mib = args.size_mib
    medians = {}
    print(
        f"\n{mib} MiB on {args.dir}, {args.runs} runs, frame {args.frame_length}, "
        f"entry {args.entry}, esdk frame {args.esdk_frame_length or 'default'}, load1 {load:.1f}"
    )
    print("| method | encrypt s [min-max] | MiB/s | decrypt s [min-max] | MiB/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        e = [r["encrypt_s"] for r in mine]
        d = [r["decrypt_s"] for r in mine]
        medians[method] = (statistics.median(e), statistics.median(d))
        rss = max(r["rss_kib"] for r in mine) / 1024
        print(
            f"| {method} | {medians[method][0]:.2f} [{min(e):.2f}-{max(e):.2f}] "
            f"| {mib / medians[method][0]:.0f} | {medians[method][1]:.2f} "
            f"[{min(d):.2f}-{max(d):.2f}] | {mib / medians[method][1]:.0f} | {rss:.0f} |"
        )
    print()
    pairs = [
        ("strongroom-unsigned", "openssl"),
        ("strongroom-signed", "openssl"),
        ("strongroom-unsigned", "esdk-cli-unsigned"),
        ("strongroom-signed", "esdk-cli-signed"),
    ]
    for ours, theirs in pairs:
        if ours in medians and theirs in medians:
            enc = medians[theirs][0] / medians[ours][0]
            dec = medians[theirs][1] / medians[ours][1]
            print(f"throughput {ours} / {theirs}: encrypt {enc:.2f}x, decrypt {dec:.2f}x")


if __name__ == "__main__":
    shutil.which("openssl") or sys.exit("openssl is not installed")
    sys.exit(main())
