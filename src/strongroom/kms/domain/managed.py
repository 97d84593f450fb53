"""AWS managed keys: the predefined ``alias/aws/<service>`` names, their descriptions and policy.

An AWS managed key belongs to a tenant but is run by the service named in its alias: created
on first use, rotated every year, used only through that service (``kms:ViaService``), never
changed by the tenant. Its key policy is what makes it so, as in AWS: it allows the account's
principals to use the key only through the service, and to read its metadata directly; nothing
else, so every management call is refused by the policy itself (docs/adr/0012).

The names are AWS's predefined aliases (the ones ListAliases shows in every account, with or
without a key behind them). The S3 policy is AWS's byte for byte (``auto-s3-2``, as GetKeyPolicy
prints it); the other services use the same two statements with their own names.
"""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.kms.domain.ids import RESERVED_ALIAS_PREFIX

ROTATION_PERIOD_DAYS = 365


@dataclass(frozen=True, slots=True)
class ManagedService:
    """One service that owns AWS managed keys."""

    name: str  # the alias suffix: alias/aws/<name>
    display: str  # as AWS names it in the policy's Sid ("S3", "EBS")
    protects: str  # what the description says the key protects ("S3 objects")
    via: str  # the service part of kms:ViaService (EBS uses "ec2")
    policy_id: str

    @property
    def alias_name(self) -> str:
        return RESERVED_ALIAS_PREFIX + self.name

    @property
    def description(self) -> str:
        return f"Default key that protects my {self.protects} when no other key is defined"

    def via_service(self, region: str) -> str:
        """The ``kms:ViaService`` value of calls this service makes in ``region``."""
        return f"{self.via}.{region}.amazonaws.com"

    def policy(self, account_id: str, region: str) -> str:
        """The key policy, in the layout AWS's GetKeyPolicy returns."""
        sid = (
            f"Allow access through {self.display} for all principals in the account that are "
            f"authorized to use {self.display}"
        )
        return (
            _POLICY.replace("POLICY_ID", self.policy_id)
            .replace("SID", sid)
            .replace("ACCOUNT_ID", account_id)
            .replace("VIA_SERVICE", self.via_service(region))
        )


_POLICY = """{
  "Version" : "2012-10-17",
  "Id" : "POLICY_ID",
  "Statement" : [ {
    "Sid" : "SID",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "*"
    },
    "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", \
"kms:DescribeKey" ],
    "Resource" : "*",
    "Condition" : {
      "StringEquals" : {
        "kms:CallerAccount" : "ACCOUNT_ID",
        "kms:ViaService" : "VIA_SERVICE"
      }
    }
  }, {
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::ACCOUNT_ID:root"
    },
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*" ],
    "Resource" : "*"
  } ]
}"""

# AWS's predefined aliases, in ListAliases order.
SERVICES: dict[str, ManagedService] = {
    s.name: s
    for s in (
        ManagedService("acm", "ACM", "ACM private keys", "acm", "auto-acm-2"),
        ManagedService("dynamodb", "DynamoDB", "DynamoDB data", "dynamodb", "auto-dynamodb-2"),
        ManagedService("ebs", "EBS", "EBS volumes", "ec2", "auto-ebs-2"),
        ManagedService(
            "elasticfilesystem",
            "EFS",
            "EFS filesystems",
            "elasticfilesystem",
            "auto-elasticfilesystem-1",
        ),
        ManagedService("es", "OpenSearch Service", "OpenSearch Service data", "es", "auto-es-2"),
        ManagedService("glue", "Glue", "Glue data", "glue", "auto-glue-1"),
        ManagedService(
            "kinesisvideo",
            "Kinesis Video Streams",
            "Kinesis Video Streams data",
            "kinesisvideo",
            "auto-kinesisvideo-1",
        ),
        ManagedService("lambda", "Lambda", "Lambda functions", "lambda", "auto-lambda-2"),
        ManagedService("rds", "RDS", "RDS database volumes", "rds", "auto-rds-2"),
        ManagedService("redshift", "Redshift", "Redshift data", "redshift", "auto-redshift-2"),
        ManagedService("s3", "S3", "S3 objects", "s3", "auto-s3-2"),
        ManagedService(
            "secretsmanager",
            "AWS Secrets Manager",
            "Secrets Manager data",
            "secretsmanager",
            "auto-secretsmanager-2",
        ),
        ManagedService("ssm", "SSM", "SSM parameters", "ssm", "auto-ssm-2"),
        ManagedService("xray", "X-Ray", "X-Ray data", "xray", "auto-xray-1"),
    )
}


def service_of_alias(alias_name: str) -> ManagedService | None:
    """The service whose predefined alias this is, or None."""
    if not alias_name.startswith(RESERVED_ALIAS_PREFIX):
        return None
    return SERVICES.get(alias_name[len(RESERVED_ALIAS_PREFIX) :])


def is_reserved_alias(alias_name: str) -> bool:
    """Names under ``alias/aws/`` belong to AWS managed keys; tenants may not write them."""
    return alias_name.startswith(RESERVED_ALIAS_PREFIX)
