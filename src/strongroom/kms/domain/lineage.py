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

    def to_dict(self) -> dict[str, str]:
        return {
            "token_label": self.token_label,
            "token_serial": self.token_serial,
            "key_label": self.key_label,
            "exported_at": self.exported_at.isoformat(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def source(self) -> str:
        """The token key in words: ``token LABEL serial SERIAL, key LABEL``."""
        return f"token {self.token_label} serial {self.token_serial}, key {self.key_label}"

    def same_source(self, other: HsmLineage) -> bool:
        """The same token key (the export time may differ between two runs)."""
        return (self.token_label, self.token_serial, self.key_label) == (
            other.token_label,
            other.token_serial,
            other.key_label,
        )

    @classmethod
    def from_json(cls, text: str) -> HsmLineage:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> HsmLineage:
        return cls(
            token_label=str(data["token_label"]),
            token_serial=str(data["token_serial"]),
            key_label=str(data["key_label"]),
            exported_at=datetime.fromisoformat(str(data["exported_at"])),
        )
