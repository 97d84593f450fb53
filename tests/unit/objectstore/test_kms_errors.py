"""KMS refusals become the errors S3 answers."""

from __future__ import annotations

import pytest

from strongroom.client.kms import KmsCallError
from strongroom.objectstore.keyring import kms_error


@pytest.mark.parametrize(
    ("kms_code", "code", "status"),
    [
        ("AccessDeniedException", "AccessDenied", 403),
        ("DisabledException", "KMS.DisabledException", 400),
        ("KMSInvalidStateException", "KMS.KMSInvalidStateException", 400),
        ("NotFoundException", "KMS.NotFoundException", 400),
        ("DependencyTimeoutException", "ServiceUnavailable", 503),
        ("KMSInternalException", "InternalError", 500),
    ],
)
def test_mapping(kms_code: str, code: str, status: int) -> None:
    error = kms_error(KmsCallError(kms_code, "why"))
    assert (error.code, error.status) == (code, status)
