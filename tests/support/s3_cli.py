"""The real AWS CLI (``aws s3 ...``, ``aws s3api ...``) against a test server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.servers import RunningServer


def find_aws() -> str:
    beside_python = Path(sys.executable).parent / "aws"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("aws")
    assert found is not None, "the AWS CLI (aws) is not installed"
    return found


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def ok(self) -> str:
        assert self.returncode == 0, self.stderr
        return self.stdout

    def json(self) -> Any:
        return json.loads(self.ok())


class S3Cli:
    def __init__(self, server: RunningServer, home: Path) -> None:
        self.aws = find_aws()
        self.endpoint = server.endpoint
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env = {
            **env,
            "HOME": str(home),
            "AWS_CONFIG_FILE": str(home / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
            "AWS_ACCESS_KEY_ID": server.admin_key.access_key_id,
            "AWS_SECRET_ACCESS_KEY": server.admin_key.secret_access_key,
            "AWS_DEFAULT_REGION": server.region,
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def __call__(self, *args: str, timeout: float = 300) -> CliResult:
        result = subprocess.run(
            [self.aws, *args, "--endpoint-url", self.endpoint],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        return CliResult(result.returncode, result.stdout, result.stderr)
