from __future__ import annotations

from typing import Any

import pytest

from tests.support.s3 import kms_bucket, s3_client
from tests.support.servers import InProcessServer


@pytest.fixture(scope="session")
def s3(server: InProcessServer) -> Any:
    return s3_client(server)


@pytest.fixture
def key_arn(kms: Any) -> str:
    return str(kms.create_key(Description="s3 test key")["KeyMetadata"]["Arn"])


@pytest.fixture
def bucket(s3: Any, key_arn: str) -> str:
    """A new bucket encrypting with SSE-KMS under ``key_arn`` by default."""
    return kms_bucket(s3, key_arn)
