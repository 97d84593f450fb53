"""Start-up and run time of ``strongroom encrypt``/``decrypt`` (issue #17 item 7).

Starts a ``strongroom serve`` (one worker) on a temporary data directory, creates a key, then
runs each command ``--runs`` times as a new process (the first run of each is a warm-up and not
counted) and prints the median, minimum and maximum wall time, and the median CPU time of the
process: ``encrypt --help`` (start-up: the interpreter, the command's imports, argument
parsing), and encrypt and decrypt of a 4 KiB file (start-up plus one KMS call each and the
message's ECDSA P-384 signature). The decrypted file must equal the input.

    .venv/bin/python bench/cli_bench.py --runs 20
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

from run_kms_bench import answers, free_port, read_credentials

STRONGROOM = Path(sys.executable).parent / "strongroom"


def timed(command: list[str], env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for i in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if i:  # the first run warms the page cache
            walls.append(wall)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strongroom-cli-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [str(STRONGROOM), "serve", "--data-dir", str(tmp / "data"), "--port", str(port)]
        with open(tmp / "serve.log", "w") as log:
            server = subprocess.Popen([*command, "--workers", "1"], stdout=log, stderr=log)
        try:
            while not answers(url + "/health"):
                time.sleep(0.2)
            creds = read_credentials(tmp / "data")
            env = {
                **os.environ,
                "AWS_ACCESS_KEY_ID": creds.access_key,
                "AWS_SECRET_ACCESS_KEY": creds.secret_key,
                "AWS_DEFAULT_REGION": "us-east-1",
            }
            kms = boto3.client(
                "kms",
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id=creds.access_key,
                aws_secret_access_key=creds.secret_key,
            )
            key = kms.create_key()["KeyMetadata"]["KeyId"]
            plain, sealed, opened = tmp / "in.bin", tmp / "in.bin.enc", tmp / "out.bin"
            plain.write_bytes(os.urandom(4096))
            cli = str(STRONGROOM)
            to_kms = ("--endpoint-url", url, "--key-id", key, "-f", "-o")
            commands = {
                "encrypt --help": [cli, "encrypt", "--help"],
                "encrypt 4 KiB": [cli, "encrypt", *to_kms, str(sealed), str(plain)],
                "decrypt 4 KiB": [cli, "decrypt", *to_kms, str(opened), str(sealed)],
            }
            print(f"load average before: {os.getloadavg()[0]:.1f}; {args.runs} runs each")
            print("| command | wall median s [min-max] | CPU median s |")
            print("|---|---|---|")
            for name, argv in commands.items():
                walls, cpus = timed(argv, env, args.runs)
                print(
                    f"| `strongroom {name}` | {statistics.median(walls):.3f} "
                    f"[{min(walls):.3f}-{max(walls):.3f}] | {statistics.median(cpus):.3f} |"
                )
            if opened.read_bytes() != plain.read_bytes():
                raise RuntimeError("decrypt did not return the input")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
