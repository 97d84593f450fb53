"""The served regions: botocore's aws partition by default, or the ``regions`` setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.kms.config import ConfigError, Settings
from strongroom.kms.regions import partition_regions


def test_the_default_is_every_region_of_the_aws_partition(tmp_path: Path) -> None:
    served = Settings(data_dir=tmp_path).served_regions
    assert served == set(partition_regions())
    assert {"us-east-1", "eu-west-1", "ap-south-2", "ca-west-1"} <= served
    assert "aws-global" not in served  # a partition name, not a region
    assert not any(r.startswith(("cn-", "us-gov-")) for r in served)  # other partitions


def test_a_listed_set_is_served_with_the_default_region(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, region="eu-west-1", regions=" us-west-2, ap-south-1 ")
    assert settings.validated().served_regions == {"eu-west-1", "us-west-2", "ap-south-1"}


def test_malformed_region_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="region 'EU_WEST' is not a valid region name"):
        Settings(data_dir=tmp_path, regions="eu-west-1,EU_WEST").validated()
    with pytest.raises(ConfigError, match="is not a valid region name"):
        Settings(data_dir=tmp_path, region="").validated()


def test_an_unknown_partition_is_an_error() -> None:
    with pytest.raises(ValueError, match="no partition 'aws-moon'"):
        partition_regions("aws-moon")
