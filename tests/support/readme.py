"""The README's code blocks, in order, with what the README says about running each.

A block's fence may be preceded by an HTML comment that the rendered README hides:

- ``<!-- readme: server -->``: the command that starts the server (run in the background);
- ``<!-- readme: not run: <reason> -->``: shown to the reader, not run by the README test
  (it needs hardware, a second server or placeholders only a reader can fill in).

Every other ``sh`` and ``python`` block is run, top to bottom, as one session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^```(\w*)\s*$")
_ANNOTATION = re.compile(r"^<!--\s*readme:\s*(.+?)\s*-->$")
RUNNABLE = ("sh", "python")


@dataclass(frozen=True, slots=True)
class Block:
    language: str
    code: str
    line: int  # 1-based line of the opening fence
    annotation: str | None

    @property
    def is_server(self) -> bool:
        return self.annotation == "server"

    @property
    def not_run_reason(self) -> str | None:
        if self.annotation and self.annotation.startswith("not run:"):
            return self.annotation.removeprefix("not run:").strip()
        return None

    @property
    def runs(self) -> bool:
        return self.language in RUNNABLE and not self.is_server and self.not_run_reason is None


def blocks(path: Path) -> list[Block]:
    """Every fenced block of the file with its language and annotation."""
    lines = path.read_text().splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].rstrip() != "```":
            body.append(lines[index])
            index += 1
        index += 1
        found.append(
            Block(opening.group(1), "\n".join(body) + "\n", start + 1, _annotation(lines, start))
        )
    return found


def _annotation(lines: list[str], fence: int) -> str | None:
    previous = fence - 1
    while previous >= 0 and not lines[previous].strip():
        previous -= 1
    if previous < 0:
        return None
    match = _ANNOTATION.match(lines[previous].strip())
    return match.group(1) if match else None


def session_script(found: list[Block], python: str) -> str:
    """One bash script running every runnable block in order (python blocks through ``python``)."""
    parts = ["set -euo pipefail"]
    for block in found:
        if not block.runs:
            continue
        parts.append(f"echo '--- README line {block.line}' >&2")
        if block.language == "sh":
            parts.append(block.code)
        else:
            parts.append(f"{python} - <<'README_PYTHON'\n{block.code}README_PYTHON")
    return "\n".join(parts) + "\n"
