"""Pre-sign one KMS JSON request with botocore's SigV4 and write it as a wrk Lua script.

SigV4 lets a signed request be replayed for as long as its X-Amz-Date is within the server's
clock-skew window (5 minutes), so wrk can send the same bytes over and over. Re-sign before
every run.

    python bench/sign_request.py --endpoint http://127.0.0.1:8080 --access-key AKIA... \\
        --secret-key ... --operation Encrypt --body '{"KeyId": "...", "Plaintext": "..."}' \\
        --out /tmp/encrypt.lua
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "us-east-1"
SERVICE = "kms"
CONTENT_TYPE = "application/x-amz-json-1.1"


@dataclass(frozen=True, slots=True)
class SignedRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def sign(
    endpoint: str,
    access_key: str,
    secret_key: str,
    operation: str,
    body: dict[str, Any] | bytes,
    *,
    region: str = REGION,
    invocation_id: str | None = None,
) -> SignedRequest:
    """A SigV4-signed ``POST /`` for ``TrentService.<operation>``, exactly as botocore signs.

    ``invocation_id``: sign the headers boto3 adds to every call (``amz-sdk-invocation-id``, a
    fresh UUID per call, and ``amz-sdk-request``), so that no two requests are alike."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    url = endpoint.rstrip("/") + "/"
    headers = {"X-Amz-Target": f"TrentService.{operation}", "Content-Type": CONTENT_TYPE}
    if invocation_id is not None:
        headers |= {"amz-sdk-invocation-id": invocation_id, "amz-sdk-request": "attempt=1; max=3"}
    request = AWSRequest(method="POST", url=url, data=data, headers=headers)
    SigV4Auth(Credentials(access_key, secret_key), SERVICE, region).add_auth(request)
    headers = {name: str(value) for name, value in request.headers.items()}
    # botocore signs the Host derived from the URL (host[:port]); send exactly that.
    headers["Host"] = urlsplit(url).netloc
    return SignedRequest("POST", url, headers, data)


def lua_string(data: bytes) -> str:
    """A double-quoted Lua string literal holding ``data`` byte for byte."""
    out = []
    for byte in data:
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


# Printed by wrk at the end of a run, parsed by wrk_runner.py: percentiles in microseconds
# (``--latency`` prints 50/75/90/99 only).
DONE = """
function done(summary, latency, requests)
  for _, p in ipairs({50, 99, 99.9}) do
    io.write(string.format("PERCENTILE %s %d\\n", p, latency:percentile(p)))
  end
end
"""


def wrk_script(request: SignedRequest) -> str:
    """Set the static request wrk sends on every connection (no per-request Lua runs)."""
    lines = [
        f"wrk.method = {lua_string(request.method.encode())}",
        f"wrk.body = {lua_string(request.body)}",
        "wrk.headers = {}",
    ]
    lines += [
        f"wrk.headers[{lua_string(name.encode())}] = {lua_string(value.encode())}"
        for name, value in request.headers.items()
    ]
    return "\n".join(lines) + "\n" + DONE


def _lua_table(headers: dict[str, str]) -> str:
    pairs = (f"[{lua_string(k.encode())}] = {lua_string(v.encode())}" for k, v in headers.items())
    return "{" + ", ".join(pairs) + "}"


def wrk_pool_script(requests: list[SignedRequest]) -> str:
    """Send ``requests`` in turn, each formatted once at start-up; every request differs."""
    lines = ["local pool = {"]
    lines += [
        f'  wrk.format({lua_string(r.method.encode())}, "/", {_lua_table(r.headers)}, '
        f"{lua_string(r.body)}),"
        for r in requests
    ]
    lines += [
        "}",
        "local i = 0",
        "request = function()",
        "  i = i % #pool + 1",
        "  return pool[i]",
        "end",
    ]
    return "\n".join(lines) + "\n" + DONE


def write_wrk_script(request: SignedRequest | list[SignedRequest], path: Path) -> Path:
    """A script that replays ``request``, or cycles through a pool of requests."""
    text = wrk_pool_script(request) if isinstance(request, list) else wrk_script(request)
    path.write_text(text)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:8080")
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--operation", required=True, help="e.g. Encrypt")
    parser.add_argument("--body", default="{}", help="the JSON request body")
    parser.add_argument("--region", default=REGION)
    parser.add_argument("--out", type=Path, required=True, help="the wrk Lua script to write")
    args = parser.parse_args()
    request = sign(
        args.endpoint,
        args.access_key,
        args.secret_key,
        args.operation,
        args.body.encode(),
        region=args.region,
    )
    write_wrk_script(request, args.out)
    print(f"wrote {args.out} ({request.headers['X-Amz-Date']})")


if __name__ == "__main__":
    main()
