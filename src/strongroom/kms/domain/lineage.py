"""Where a key's material came from when it was exported out of an HSM token and imported.

Such a key is ``Origin=EXTERNAL`` like any import, but the governance report must tell it apart:
its material was HSM-only once and is now within the provider's reach.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class HsmLineage:
    token_label: str
    token_serial: str
    key_label: str
    exported_at: datetime

    def to_json(self) -> str:
        return json.dumps(
            {
                "token_label": self.token_label,
                "token_serial": self.token_serial,
                "key_label": self.key_label,
                "exported_at": self.exported_at.isoformat(),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> HsmLineage:
        data = json.loads(text)
        return cls(
            token_label=data["token_label"],
            token_serial=data["token_serial"],
            key_label=data["key_label"],
            exported_at=datetime.fromisoformat(data["exported_at"]),
        )
