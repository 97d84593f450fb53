"""Tables. Records only: key material appears here solely wrapped under a key store's root."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in and out, stored as naive UTC on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the storage layer")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

principals = Table(
    "principals",
    metadata,
    Column("account_id", String(12), ForeignKey("accounts.account_id"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(128), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("principal_name", String(64), nullable=False),
    # "user" or "role": which principal of the account the name refers to.
    Column("principal_kind", String(16), nullable=False, default="user", server_default="user"),
    Column("sealed_secret", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

keys = Table(
    "keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("state", String(32), nullable=False),
    Column("description", Text, nullable=False),
    Column("key_spec", String(32), nullable=False),
    Column("key_usage", String(32), nullable=False),
    Column("origin", String(32), nullable=False),
    Column("key_manager", String(16), nullable=False),
    Column("current_material_id", String(64)),
    Column("deletion_date", UtcDateTime()),
    Column("pending_window_days", Integer),
    Column("policy", Text, nullable=False),
    Column("rotation_period_days", Integer),
    Column("next_rotation_date", UtcDateTime()),
    Column("custom_key_store_id", String(64)),
    Column("cloud_hsm_cluster_id", String(64)),
    Column("hsm_lineage", Text),  # JSON (domain/lineage.py) or null
    Column("primary_region", String(32)),  # a multi-Region key's primary region, or null
    Column("xks_key_id", String(128)),  # an external key store key's id at the proxy
    Index("ix_keys_account", "account_id", "key_id"),
    Index("ix_keys_deletion", "state", "deletion_date"),
    Index("ix_keys_rotation", "state", "next_rotation_date"),
    Index("ix_keys_xks_key", "custom_key_store_id", "xks_key_id", unique=True),
)

key_materials = Table(
    "key_materials",
    metadata,
    Column("material_id", String(64), primary_key=True),
    Column("key_id", String(64), ForeignKey("keys.key_id", ondelete="CASCADE"), primary_key=True),
    Column("store_id", String(64), nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("rotation_type", String(16)),  # null for a key's first material
    Column("version", Integer, nullable=False),  # 1, 2, ... in the order they became current
    Index("ix_materials_key", "key_id", "version", unique=True),
)

# BYOK: one row per key material of an EXTERNAL key. The row stays when the material is deleted or
# expires (imported = false; its key_materials row, the wrapped copy, is removed), so importing
# the same material again is recognized by its material id (a keyed MAC, never a plain hash).
imported_materials = Table(
    "imported_materials",
    metadata,
    Column("material_id", String(64), primary_key=True),
    Column("key_id", String(64), ForeignKey("keys.key_id", ondelete="CASCADE"), nullable=False),
    Column("sequence", Integer, nullable=False),  # 1 for the first material, then import order
    Column("expiration_model", String(32), nullable=False),
    Column("valid_to", UtcDateTime()),
    Column("imported", Boolean, nullable=False),
    Column("imported_at", UtcDateTime(), nullable=False),
    Column("description", String(256)),
    Column("rotated_at", UtcDateTime()),  # when RotateKeyOnDemand made it current
    Index("ix_imported_materials_key", "key_id", "sequence", unique=True),
    Index("ix_imported_materials_expiry", "imported", "valid_to"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("alias_name", String(256), primary_key=True),
    Column("key_id", String(64), ForeignKey("keys.key_id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_aliases_key", "key_id"),
)

tags = Table(
    "tags",
    metadata,
    Column("key_id", String(64), ForeignKey("keys.key_id", ondelete="CASCADE"), primary_key=True),
    Column("tag_key", String(128), primary_key=True),
    Column("tag_value", String(256), nullable=False),
)

# Inline IAM (identity) policies of users and roles.
principal_policies = Table(
    "principal_policies",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("principal_name", String(64), primary_key=True),
    Column("policy_name", String(128), primary_key=True),
    Column("document", Text, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

grants = Table(
    "grants",
    metadata,
    Column("grant_id", String(64), primary_key=True),
    Column("key_id", String(64), ForeignKey("keys.key_id", ondelete="CASCADE"), nullable=False),
    Column("issuing_account", String(12), nullable=False),
    Column("grantee_principal", String(2048), nullable=False),
    Column("retiring_principal", String(2048)),
    Column("operations", Text, nullable=False),  # JSON list
    Column("constraints", Text),  # JSON object or null
    Column("name", String(256)),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_grants_key", "key_id", "created_at"),
    Index("ix_grants_retiring", "retiring_principal"),
)

# The last successful cryptographic use of each key (GetKeyLastUsage), written in groups.
key_usage = Table(
    "key_usage",
    metadata,
    Column("key_id", String(64), ForeignKey("keys.key_id", ondelete="CASCADE"), primary_key=True),
    Column("operation", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("request_id", String(64), nullable=False),
)

# Secrets of the default key store itself, sealed under its root key (storage/store_secrets.py).
store_secrets = Table(
    "store_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("sealed_secret", LargeBinary, nullable=False),
)

# --- custom key stores (kms/domain/custom_key_stores.py) --------------------------------

# HSM clusters the provider's operator registered: a PKCS#11 module and its tokens.
hsm_clusters = Table(
    "hsm_clusters",
    metadata,
    Column("cluster_id", String(24), primary_key=True),
    Column("module_path", Text, nullable=False),
    Column("token_labels", Text, nullable=False),  # JSON list, in failover order
    Column("trust_anchor", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

custom_key_stores = Table(
    "custom_key_stores",
    metadata,
    Column("custom_key_store_id", String(64), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("name", String(256), nullable=False),
    # One store per cluster, across all accounts (AWS's CloudHsmClusterInUseException).
    # Null for an external key store.
    Column("cluster_id", String(24), unique=True),
    Column("trust_anchor", Text),
    # The kmsuser password, or an external key store's proxy secret: under the root key.
    Column("sealed_password", LargeBinary, nullable=False),
    Column("connection_state", String(16), nullable=False),
    Column("connection_error_code", String(64)),
    Column("created_at", UtcDateTime(), nullable=False),
    # AWS_CLOUDHSM or EXTERNAL_KEY_STORE; the xks_* columns are set for the latter only.
    Column("store_type", String(32), nullable=False, server_default="AWS_CLOUDHSM"),
    Column("xks_uri_endpoint", String(128)),
    Column("xks_uri_path", String(128)),
    Column("xks_connectivity", String(32)),
    Column("xks_access_key_id", String(30)),
    UniqueConstraint("account_id", "name", name="uq_custom_key_store_name"),
)

# --- The XKS proxy (kms/domain/xks.py, docs/adr/0017) ------------------------------------
# External keys: AES-256 objects in a custom key store's cluster; only a reference is here.
xks_keys = Table(
    "xks_keys",
    metadata,
    Column(
        "custom_key_store_id",
        String(64),
        ForeignKey("custom_key_stores.custom_key_store_id"),
        primary_key=True,
    ),
    Column("xks_key_id", String(128), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("tokens", Text, nullable=False),  # JSON list of the token labels holding it
    Column("created_at", UtcDateTime(), nullable=False),
)

# The proxy's SigV4 credentials (not IAM access keys): the secret sealed under the root key.
xks_credentials = Table(
    "xks_credentials",
    metadata,
    Column("access_key_id", String(30), primary_key=True),
    Column(
        "custom_key_store_id",
        String(64),
        ForeignKey("custom_key_stores.custom_key_store_id"),
        nullable=False,
        index=True,
    ),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("sealed_secret", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# --- Tenant protection policies (kms/domain/protection.py, docs/adr/0009) -----------------
# One policy per account: M of the listed approvers must approve lowering a key's protection.
protection_policies = Table(
    "protection_policies",
    metadata,
    Column("account_id", String(12), ForeignKey("accounts.account_id"), primary_key=True),
    Column("required_approvals", Integer, nullable=False),
    Column("approvers", Text, nullable=False),  # JSON list of IAM principal ARNs
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Acts waiting for the tenant's approvals; executed_at is set once, by a conditional update.
protection_changes = Table(
    "protection_changes",
    metadata,
    Column("change_id", String(64), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("key_id", String(64)),
    Column("parameters", Text, nullable=False),  # canonical JSON
    Column("requested_by", String(2048), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("executed_at", UtcDateTime()),
    Index("ix_protection_changes_account", "account_id", "created_at"),
    Index("ix_protection_changes_key", "key_id"),
)

# One row per approver and change: the approver's own SigV4-authenticated call.
protection_approvals = Table(
    "protection_approvals",
    metadata,
    Column(
        "change_id",
        String(64),
        ForeignKey("protection_changes.change_id"),
        primary_key=True,
    ),
    Column("principal_arn", String(2048), primary_key=True),
    Column("approved_at", UtcDateTime(), nullable=False),
)

# Every change that a worker's cache may hold is appended here in the same transaction as the
# change; workers poll it to evict stale entries (see service/cache.py).
changes = Table(
    "changes",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", UtcDateTime(), nullable=False),
    Column("key_id", String(64)),
    Column("account_id", String(12)),
    Column("region", String(32)),  # of an alias change
    Column("alias_name", String(256)),
    Column("access_key_id", String(128)),
    Column("principal_arn", String(2048)),
    Column("custom_key_store_id", String(64)),
)

# The hash-chained audit trail (kms/audit/). Append-only: rows are inserted by
# ChainedAuditLog and never updated or deleted; `strongroom audit verify` checks them.
audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("event_time", UtcDateTime(), nullable=False),
    Column("account_id", String(12), nullable=False),
    # The canonical JSON record: exactly the bytes that are hashed.
    Column("record", Text, nullable=False),
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    Index("ix_audit_events_account_time", "account_id", "event_time"),
)

# The other accounts that may export an event: owners of its keys, when they are not the
# caller's account. An index only: export re-checks each record it returns.
audit_event_accounts = Table(
    "audit_event_accounts",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("event_time", UtcDateTime(), nullable=False),
    Index("ix_audit_event_accounts_time", "account_id", "event_time"),
)

# Events that are looked up by name (ProviderAccess: ListProviderAccesses, the exposure
# report), so those lookups do not scan an account's whole trail. An index only: readers
# re-check each record.
audit_named_events = Table(
    "audit_named_events",
    metadata,
    Column("event_name", String(64), primary_key=True),
    Column("account_id", String(12), primary_key=True),
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
)

# One row (id 1): the last sequence number and hash. Flushers lock it (SELECT ... FOR UPDATE;
# BEGIN IMMEDIATE on SQLite) so that concurrent writers extend one linear chain.
audit_chain_head = Table(
    "audit_chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
)

# Ed25519 audit signing keys: the private key sealed under the root key, the public key clear.
audit_signing_keys = Table(
    "audit_signing_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("public_key", LargeBinary, nullable=False),
    Column("sealed_private_key", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# Signed chain heads, one per flush: a signature over "strongroom-audit-head/v1|seq|hash|time".
audit_signed_heads = Table(
    "audit_signed_heads",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("hash", LargeBinary(32), nullable=False),
    Column("signed_at", String(40), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary, nullable=False),
)

# --- Governance (kms/governance/): the provider's operators and their quorum approvals. ---
# A realm of its own: operators are not IAM principals and have no access keys; each is
# known by an Ed25519 public key. Rows are never deleted: a removed operator keeps its row
# (removed_at set) so past approvals stay attributable.
gov_operators = Table(
    "gov_operators",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("public_key", LargeBinary(32), nullable=False, unique=True),
    Column("enrolled_at", UtcDateTime(), nullable=False),
    Column("removed_at", UtcDateTime()),
)

# One row (id 1): the threshold M in force. Its absence means "not initialised".
gov_quorum = Table(
    "gov_quorum",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("threshold", Integer, nullable=False),
)

# Proposals of privileged acts. The signed fields are stored exactly as signed (parameters as
# canonical JSON); executed_at is set once, by a conditional update, so an act runs once.
gov_proposals = Table(
    "gov_proposals",
    metadata,
    Column("proposal_id", String(64), primary_key=True),
    Column("proposer", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("parameters", Text, nullable=False),
    Column("justification", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("executed_at", UtcDateTime()),
    Column("executed_by", String(64)),
)

# One Ed25519 signature per operator and proposal, over the proposal's canonical bytes.
gov_approvals = Table(
    "gov_approvals",
    metadata,
    Column("proposal_id", String(64), ForeignKey("gov_proposals.proposal_id"), primary_key=True),
    Column("operator", String(64), primary_key=True),
    Column("signature", LargeBinary(64), nullable=False),
    Column("approved_at", UtcDateTime(), nullable=False),
)

# Leases: a named claim that one holder keeps until it expires or is released (leases.py).
# They fence work across nodes: a root key change against serving nodes, scheduler runs.
leases = Table(
    "leases",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("holder", String(256), nullable=False),
    Column("acquired_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

# --- The KMIP server (kms/domain/kmip.py, docs/adr/0023) ----------------------------------
# Client certificates (by SHA-256 fingerprint) and the principal each one acts as.
kmip_clients = Table(
    "kmip_clients",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("principal_arn", String(2048), nullable=False),
    Column("subject", String(1024), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# KMIP-made keys: the marker that a KMS key is exportable, its KMIP state and attributes.
kmip_objects = Table(
    "kmip_objects",
    metadata,
    # No foreign key: a key's deletion (keys.py) removes this row in the same transaction.
    Column("key_id", String(64), primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("kind", Integer, nullable=False),
    Column("state", Integer, nullable=False),
    Column("attributes", Text, nullable=False),  # JSON [[name, base64 TTLV of the value]]
    Column("names", Text, nullable=False),  # JSON list of the Name values (Locate by name)
    Column("created_at", UtcDateTime(), nullable=False),
    Column("activated_at", UtcDateTime()),
    Column("deactivated_at", UtcDateTime()),
    Column("changed_at", UtcDateTime(), nullable=False),
)
