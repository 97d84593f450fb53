"""Where a worker's CPU goes, by thread: the event loop against the audit writer and the rest.

Starts ``strongroom serve --workers 1`` and the no-op app (one worker), sends each target
(``run_kms_bench.py``'s requests, replayed) with wrk for ``--seconds`` at ``--connections``,
and reads every thread's user and system CPU time from ``/proc/<pid>/task`` before and after:
µs per request for the main thread (uvicorn's event loop: HTTP, SigV4, decoding, the
operation, the response) and for all other threads together (the audit writer's group
commits, background jobs). CPU time is far less disturbed by other jobs on the machine than
throughput, so this can be read on a shared machine.

    .venv/bin/python bench/thread_cpu_bench.py --seconds 8
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import wrk_runner
from run_kms_bench import (
    STRONGROOM,
    answers,
    free_port,
    kms_client,
    make_targets,
    read_credentials,
    server,
    signed,
)
from sign_request import write_wrk_script

CLK_TCK = os.sysconf("SC_CLK_TCK")


def thread_ticks(pid: int) -> dict[int, tuple[int, int]]:
    """(user, system) clock ticks of every thread of ``pid``."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        found[int(task.name)] = (int(fields[11]), int(fields[12]))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strongroom-threads-") as tmp_name:
        tmp = Path(tmp_name)
        kms_port, noop_port = free_port(), free_port()
        kms_url, noop_url = f"http://127.0.0.1:{kms_port}", f"http://127.0.0.1:{noop_port}"
        kms_cmd = [str(STRONGROOM), "serve", "--data-dir", str(tmp / "data")]
        kms_cmd += ["--port", str(kms_port), "--workers", "1"]
        noop_cmd = [sys.executable, str(Path(__file__).parent / "noop_app.py")]
        noop_cmd += ["--port", str(noop_port), "--workers", "1"]
        with (
            server(kms_cmd, tmp / "kms.log", lambda: answers(kms_url + "/health")) as kms_pid,
            server(noop_cmd, tmp / "noop.log", lambda: answers(noop_url + "/", "POST")) as noop,
        ):
            creds = read_credentials(tmp / "data")
            kms = kms_client(kms_url, creds)
            targets = make_targets(kms, kms_url, noop_url, (kms_pid, noop))
            print(f"load average before: {os.getloadavg()[0]:.1f}")
            print("| target | req/s | main thread µs/req (user + sys) | other threads µs/req |")
            print("|---|---|---|---|")
            for target in targets:
                script = write_wrk_script(signed(target, creds), tmp / f"{target.name}.lua")
                wrk_runner.run(target.endpoint + "/", script, args.connections, 2)  # warm-up
                before = thread_ticks(target.server_pid)
                result = wrk_runner.run(
                    target.endpoint + "/", script, args.connections, args.seconds
                )
                after = thread_ticks(target.server_pid)
                per = 1e6 / CLK_TCK / max(result.requests, 1)
                main_u, main_s = (
                    (after[target.server_pid][i] - before[target.server_pid][i]) * per
                    for i in (0, 1)
                )
                others = sum(
                    sum(after[t]) - sum(before.get(t, (0, 0)))
                    for t in after
                    if t != target.server_pid
                )
                print(
                    f"| {target.name} | {result.rps:,.0f} | "
                    f"{main_u + main_s:.0f} ({main_u:.0f} + {main_s:.0f}) | {others * per:.0f} |"
                )


if __name__ == "__main__":
    main()
