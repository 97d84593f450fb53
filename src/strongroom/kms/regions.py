"""The regions a server serves: by default every region of botocore's ``aws`` partition.

The list comes from botocore's partition data (``botocore/data/partitions.json``), the same
file the SDKs use to build endpoints, so a region AWS adds reaches Strongroom with botocore.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

PARTITION = "aws"
# Partition-wide names that are not regions a KMS request can be made in.
_NOT_REGIONS = frozenset({"aws-global"})


@cache
def partition_regions(partition: str = PARTITION) -> tuple[str, ...]:
    """The regions of ``partition`` in botocore's partition data, sorted."""
    data = json.loads(resources.files("botocore").joinpath("data/partitions.json").read_text())
    for entry in data["partitions"]:
        if entry["id"] == partition:
            return tuple(sorted(set(entry["regions"]) - _NOT_REGIONS))
    raise ValueError(f"botocore knows no partition {partition!r}")
