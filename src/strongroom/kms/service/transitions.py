"""The one way an operation changes a key record."""

from __future__ import annotations

from collections.abc import Callable

from strongroom.kms.domain import states
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.states import OpClass
from strongroom.kms.service.pipeline import Call


def transition(
    call: Call, op_class: OpClass, change: Callable[[KeyRecord], KeyRecord]
) -> KeyRecord:
    """Apply ``change`` to the current record under the write lock, re-checking its state."""

    def mutate(current: KeyRecord) -> KeyRecord:
        states.check(op_class, current.state, current.arn)
        return change(current)

    updated = call.ctx.keys.update_key(call.key.record_id, call.ctx.clock.now(), mutate)
    call.ctx.cache.put_key(updated)
    return updated
