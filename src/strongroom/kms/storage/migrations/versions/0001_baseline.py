"""Baseline: the schema as ``create_all`` made it up to 2026-12-05 (``meta.schema_version`` 4).

Data directories made before migrations existed are stamped with this revision at their first
start (migrate.py), after ``create_all`` added any table they lacked, as every start did then.
Datetimes are ``DateTime`` here: ``schema.UtcDateTime`` stores naive UTC in a ``DateTime``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audit_event_accounts",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "seq"),
    )
    with op.batch_alter_table("audit_event_accounts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_event_accounts_time", ["account_id", "event_time"], unique=False
        )

    op.create_table(
        "audit_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("event_time", sa.DateTime(), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_account_time", ["account_id", "event_time"], unique=False
        )

    op.create_table(
        "audit_named_events",
        sa.Column("event_name", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("event_name", "account_id", "seq"),
    )
    op.create_table(
        "audit_signed_heads",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("signed_at", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_table(
        "audit_signing_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_table(
        "changes",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.String(length=12), nullable=True),
        sa.Column("alias_name", sa.String(length=256), nullable=True),
        sa.Column("access_key_id", sa.String(length=128), nullable=True),
        sa.Column("principal_arn", sa.String(length=2048), nullable=True),
        sa.Column("custom_key_store_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_table(
        "gov_operators",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("public_key"),
    )
    op.create_table(
        "gov_proposals",
        sa.Column("proposal_id", sa.String(length=64), nullable=False),
        sa.Column("proposer", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("executed_at", sa.DateTime(), nullable=True),
        sa.Column("executed_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("proposal_id"),
    )
    op.create_table(
        "gov_quorum",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "hsm_clusters",
        sa.Column("cluster_id", sa.String(length=24), nullable=False),
        sa.Column("module_path", sa.Text(), nullable=False),
        sa.Column("token_labels", sa.Text(), nullable=False),
        sa.Column("trust_anchor", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("cluster_id"),
    )
    op.create_table(
        "meta",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "principal_policies",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("principal_name", sa.String(length=64), nullable=False),
        sa.Column("policy_name", sa.String(length=128), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "kind", "principal_name", "policy_name"),
    )
    op.create_table(
        "protection_changes",
        sa.Column("change_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=2048), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("executed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("change_id"),
    )
    with op.batch_alter_table("protection_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_protection_changes_account", ["account_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_protection_changes_key", ["key_id"], unique=False)

    op.create_table(
        "store_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "access_keys",
        sa.Column("access_key_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("principal_name", sa.String(length=64), nullable=False),
        sa.Column("principal_kind", sa.String(length=16), server_default="user", nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
        ),
        sa.PrimaryKeyConstraint("access_key_id"),
    )
    op.create_table(
        "custom_key_stores",
        sa.Column("custom_key_store_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("cluster_id", sa.String(length=24), nullable=False),
        sa.Column("trust_anchor", sa.Text(), nullable=False),
        sa.Column("sealed_password", sa.LargeBinary(), nullable=False),
        sa.Column("connection_state", sa.String(length=16), nullable=False),
        sa.Column("connection_error_code", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
        ),
        sa.PrimaryKeyConstraint("custom_key_store_id"),
        sa.UniqueConstraint("account_id", "name", name="uq_custom_key_store_name"),
        sa.UniqueConstraint("cluster_id"),
    )
    op.create_table(
        "gov_approvals",
        sa.Column("proposal_id", sa.String(length=64), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.Column("approved_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["gov_proposals.proposal_id"],
        ),
        sa.PrimaryKeyConstraint("proposal_id", "operator"),
    )
    op.create_table(
        "keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("key_spec", sa.String(length=32), nullable=False),
        sa.Column("key_usage", sa.String(length=32), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("key_manager", sa.String(length=16), nullable=False),
        sa.Column("current_material_id", sa.String(length=64), nullable=True),
        sa.Column("deletion_date", sa.DateTime(), nullable=True),
        sa.Column("pending_window_days", sa.Integer(), nullable=True),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("rotation_period_days", sa.Integer(), nullable=True),
        sa.Column("next_rotation_date", sa.DateTime(), nullable=True),
        sa.Column("custom_key_store_id", sa.String(length=64), nullable=True),
        sa.Column("cloud_hsm_cluster_id", sa.String(length=64), nullable=True),
        sa.Column("hsm_lineage", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
        ),
        sa.PrimaryKeyConstraint("key_id"),
    )
    with op.batch_alter_table("keys", schema=None) as batch_op:
        batch_op.create_index("ix_keys_account", ["account_id", "key_id"], unique=False)
        batch_op.create_index("ix_keys_deletion", ["state", "deletion_date"], unique=False)
        batch_op.create_index("ix_keys_rotation", ["state", "next_rotation_date"], unique=False)

    op.create_table(
        "principals",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
        ),
        sa.PrimaryKeyConstraint("account_id", "kind", "name"),
    )
    op.create_table(
        "protection_approvals",
        sa.Column("change_id", sa.String(length=64), nullable=False),
        sa.Column("principal_arn", sa.String(length=2048), nullable=False),
        sa.Column("approved_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["protection_changes.change_id"],
        ),
        sa.PrimaryKeyConstraint("change_id", "principal_arn"),
    )
    op.create_table(
        "protection_policies",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("approvers", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
        ),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "aliases",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("alias_name", sa.String(length=256), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["keys.key_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "alias_name"),
    )
    with op.batch_alter_table("aliases", schema=None) as batch_op:
        batch_op.create_index("ix_aliases_key", ["key_id"], unique=False)

    op.create_table(
        "grants",
        sa.Column("grant_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("issuing_account", sa.String(length=12), nullable=False),
        sa.Column("grantee_principal", sa.String(length=2048), nullable=False),
        sa.Column("retiring_principal", sa.String(length=2048), nullable=True),
        sa.Column("operations", sa.Text(), nullable=False),
        sa.Column("constraints", sa.Text(), nullable=True),
        sa.Column("name", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["keys.key_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("grant_id"),
    )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.create_index("ix_grants_key", ["key_id", "created_at"], unique=False)
        batch_op.create_index("ix_grants_retiring", ["retiring_principal"], unique=False)

    op.create_table(
        "imported_materials",
        sa.Column("material_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("expiration_model", sa.String(length=32), nullable=False),
        sa.Column("valid_to", sa.DateTime(), nullable=True),
        sa.Column("imported", sa.Boolean(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("description", sa.String(length=256), nullable=True),
        sa.Column("rotated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["keys.key_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("material_id"),
    )
    with op.batch_alter_table("imported_materials", schema=None) as batch_op:
        batch_op.create_index(
            "ix_imported_materials_expiry", ["imported", "valid_to"], unique=False
        )
        batch_op.create_index("ix_imported_materials_key", ["key_id", "sequence"], unique=True)

    op.create_table(
        "key_materials",
        sa.Column("material_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("rotation_type", sa.String(length=16), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["keys.key_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("material_id"),
    )
    with op.batch_alter_table("key_materials", schema=None) as batch_op:
        batch_op.create_index("ix_materials_key", ["key_id", "version"], unique=True)

    op.create_table(
        "key_usage",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["keys.key_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_table(
        "tags",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("tag_key", sa.String(length=128), nullable=False),
        sa.Column("tag_value", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["keys.key_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key_id", "tag_key"),
    )


def downgrade() -> None:
    raise NotImplementedError("the baseline is not downgraded: restore a backup instead")
