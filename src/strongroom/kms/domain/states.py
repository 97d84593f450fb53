"""The one key-state table: which operation may run in which key state, and which error not.

Source: the AWS KMS Developer Guide's "Key states" table. Every operation in the registry names
its row (an :class:`OpClass`); the pipeline asks :func:`check` before running it, and
:func:`check_manager` for what no one may do to an AWS managed key.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from strongroom.kms import messages
from strongroom.kms.domain.enums import KeyManager, KeyState
from strongroom.kms.errors import (
    DisabledException,
    KmsError,
    KMSInvalidStateException,
    UnsupportedOperationException,
)

S = KeyState


class OpClass(Enum):
    # Members are singletons compared by identity: hash them so too, in C (Enum.__hash__
    # hashes the name in Python, on every lookup of the table below).
    __hash__ = object.__hash__

    CRYPTO = "cryptographic operation"
    CREATE_GRANT = "CreateGrant"
    READ = "read-only or housekeeping operation"
    PUT_POLICY = "PutKeyPolicy"
    MODIFY = "CreateAlias, TagResource, UntagResource, UpdateKeyDescription"
    ENABLE_DISABLE = "EnableKey, DisableKey"
    ROTATION = "rotation configuration"
    SCHEDULE_DELETION = "ScheduleKeyDeletion"
    CANCEL_DELETION = "CancelKeyDeletion"
    IMPORT = "GetParametersForImport, ImportKeyMaterial"
    DELETE_IMPORTED = "DeleteImportedKeyMaterial"
    REPLICATE = "ReplicateKey, UpdatePrimaryRegion"
    # KMIP Get of an exportable key's material (docs/adr/0023): KMIP lets a Pre-Active,
    # Deactivated or Compromised key (all Disabled here) be retrieved.
    EXPORT = "KMIP Get of key material"


ErrorFactory = Callable[[str], KmsError]


def _disabled(arn: str) -> KmsError:
    return DisabledException(messages.disabled(arn))


def _invalid(phrase: str) -> ErrorFactory:
    def factory(arn: str) -> KmsError:
        return KMSInvalidStateException(messages.invalid_state(arn, phrase))

    return factory


_PENDING_DELETION = _invalid("pending deletion")
_PENDING_IMPORT = _invalid("pending import")
_UNAVAILABLE = _invalid("unavailable")
_CREATING = _invalid("creating")
_UPDATING = _invalid("updating")
_NOT_PENDING_DELETION = _invalid("not pending deletion")

# state -> error factory, for each operation class; a state absent from a row is allowed.
_TABLE: dict[OpClass, dict[KeyState, ErrorFactory]] = {
    OpClass.CRYPTO: {
        S.DISABLED: _disabled,
        S.PENDING_DELETION: _PENDING_DELETION,
        S.PENDING_REPLICA_DELETION: _PENDING_DELETION,
        S.PENDING_IMPORT: _PENDING_IMPORT,
        S.UNAVAILABLE: _UNAVAILABLE,
        S.CREATING: _CREATING,
    },
    OpClass.CREATE_GRANT: {
        S.DISABLED: _disabled,
        S.PENDING_DELETION: _PENDING_DELETION,
        S.PENDING_REPLICA_DELETION: _PENDING_DELETION,
        S.PENDING_IMPORT: _PENDING_IMPORT,
        S.CREATING: _CREATING,
    },
    OpClass.READ: {},
    OpClass.PUT_POLICY: {},
    OpClass.MODIFY: {
        S.PENDING_DELETION: _PENDING_DELETION,
        S.PENDING_REPLICA_DELETION: _PENDING_DELETION,
    },
    OpClass.ENABLE_DISABLE: {
        S.PENDING_DELETION: _PENDING_DELETION,
        S.PENDING_REPLICA_DELETION: _PENDING_DELETION,
        S.PENDING_IMPORT: _PENDING_IMPORT,
        S.CREATING: _CREATING,
        S.UPDATING: _UPDATING,
    },
    OpClass.ROTATION: {
        S.DISABLED: _disabled,
        S.PENDING_DELETION: _PENDING_DELETION,
        S.PENDING_REPLICA_DELETION: _PENDING_DELETION,
        S.PENDING_IMPORT: _PENDING_IMPORT,
        S.UNAVAILABLE: _UNAVAILABLE,
        S.CREATING: _CREATING,
    },
    OpClass.SCHEDULE_DELETION: {
        S.PENDING_DELETION: _PENDING_DELETION,
        S.PENDING_REPLICA_DELETION: _PENDING_DELETION,
        S.UPDATING: _UPDATING,
    },
    OpClass.CANCEL_DELETION: {
        S.ENABLED: _NOT_PENDING_DELETION,
        S.DISABLED: _NOT_PENDING_DELETION,
        S.PENDING_IMPORT: _NOT_PENDING_DELETION,
        S.UNAVAILABLE: _NOT_PENDING_DELETION,
        S.CREATING: _CREATING,
        S.UPDATING: _UPDATING,
    },
    # BYOK: import into a key pending import, or re-import into an enabled or disabled one.
    OpClass.IMPORT: {
        S.PENDING_DELETION: _PENDING_DELETION,
        S.PENDING_REPLICA_DELETION: _PENDING_DELETION,
        S.UNAVAILABLE: _UNAVAILABLE,
        S.CREATING: _CREATING,
        S.UPDATING: _UPDATING,
    },
    OpClass.REPLICATE: {
        S.DISABLED: _disabled,
        S.PENDING_DELETION: _PENDING_DELETION,
        S.PENDING_REPLICA_DELETION: _PENDING_DELETION,
        S.PENDING_IMPORT: _PENDING_IMPORT,
        S.UNAVAILABLE: _UNAVAILABLE,
        S.CREATING: _CREATING,
        S.UPDATING: _UPDATING,
    },
    OpClass.EXPORT: {
        S.PENDING_DELETION: _PENDING_DELETION,
        S.PENDING_REPLICA_DELETION: _PENDING_DELETION,
        S.PENDING_IMPORT: _PENDING_IMPORT,
        S.UNAVAILABLE: _UNAVAILABLE,
        S.CREATING: _CREATING,
    },
    # Deleting imported material works even pending deletion (the key stays so).
    OpClass.DELETE_IMPORTED: {
        S.UNAVAILABLE: _UNAVAILABLE,
        S.CREATING: _CREATING,
        S.UPDATING: _UPDATING,
    },
}


def check(op_class: OpClass, state: KeyState, arn: str) -> None:
    """Raise the AWS error if an operation of ``op_class`` may not run on a key in ``state``."""
    factory = _TABLE[op_class].get(state)
    if factory is not None:
        raise factory(arn)


# An AWS managed key is used and read, and its service may create grants on it (EBS does);
# nothing else. Its key policy already refuses these to every caller (AccessDenied, as AWS);
# this row keeps them refused whatever a policy says.
_AWS_MANAGED_REFUSED = frozenset(
    {
        OpClass.MODIFY,
        OpClass.PUT_POLICY,
        OpClass.ENABLE_DISABLE,
        OpClass.ROTATION,
        OpClass.SCHEDULE_DELETION,
        OpClass.CANCEL_DELETION,
        OpClass.IMPORT,
        OpClass.DELETE_IMPORTED,
        OpClass.REPLICATE,
        OpClass.EXPORT,
    }
)


def check_manager(op_class: OpClass, manager: KeyManager, arn: str) -> None:
    """Raise if an operation of ``op_class`` would change an AWS managed key."""
    if manager is KeyManager.AWS and op_class in _AWS_MANAGED_REFUSED:
        raise UnsupportedOperationException(
            f"{arn} is an AWS managed key. Only the service that manages it can change it."
        )


def refusal(op_class: OpClass, state: KeyState) -> type[KmsError] | None:
    """The error class a state gives for an operation class, or None; for tests and docs."""
    factory = _TABLE[op_class].get(state)
    return None if factory is None else type(factory("arn"))
