"""A botocore model extension that makes Strongroom's extension operations first-class.

botocore merges ``<AWS_DATA_PATH>/kms/2014-11-01/service-2.sdk-extras.json`` into the KMS
service model it loads, so with ``AWS_DATA_PATH`` naming the directory this module writes
(``strongroom aws-data-path`` prints it), boto3 has ``kms.get_exposure_report()`` and the AWS
CLI ``aws kms get-exposure-report``, signed and sent like every other KMS call. Inputs use the
KMS model's own shapes (from each operation's ``INPUT_MEMBERS``); outputs are documents: the
members our docs describe, passed through as JSON.

Regenerate with ``python -m strongroom.kms.api.botocore_extras``; a test fails when the
committed file differs from what the registry says.
"""

from __future__ import annotations

import json
from typing import Any

from strongroom import botocore_data
from strongroom.kms.service.registry import EXTENSIONS

EXTRAS_FILE = botocore_data.PATH / "kms" / "2014-11-01" / "service-2.sdk-extras.json"
DOCUMENT_SHAPE = "StrongroomResultDocument"
DOCUMENTATION = "<p>A Strongroom extension operation (not part of AWS KMS).</p>"


def extras() -> dict[str, Any]:
    """The sdk-extras document: one operation and one input shape per extension."""
    operations: dict[str, Any] = {}
    shapes: dict[str, Any] = {
        DOCUMENT_SHAPE: {
            "type": "structure",
            "members": {},
            "document": True,
            "documentation": "<p>The operation's result, as documented by Strongroom.</p>",
        }
    }
    for name, (_, members) in sorted(EXTENSIONS.items()):
        request = f"Strongroom{name}Request"
        operations[name] = {
            "name": name,
            "http": {"method": "POST", "requestUri": "/"},
            "input": {"shape": request},
            "output": {"shape": DOCUMENT_SHAPE},
            "documentation": DOCUMENTATION,
        }
        shapes[request] = {
            "type": "structure",
            "members": {member: {"shape": shape} for member, shape in sorted(members.items())},
        }
    return {"version": 1.0, "merge": {"operations": operations, "shapes": shapes}}


def render() -> str:
    return json.dumps(extras(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    EXTRAS_FILE.write_text(render())
