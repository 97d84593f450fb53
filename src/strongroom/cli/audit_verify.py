"""``strongroom audit verify``: the trail, and optionally its digests and archives, checked.

- ``--data-dir D``: the stored chain (hashes, signed heads, derived columns, indexes, anchor).
- ``--digests DIR``: the trail against the signed digest files published outside it.
- ``--archive DIR``: archived segments, on their own when no ``--data-dir`` is given; with one,
  also that the newest archive ends exactly where the stored chain's anchor says.

Exit 0 when everything checked is intact (one summary line per check), 1 with the first
problem on stderr.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from strongroom.kms.config import load_settings

if TYPE_CHECKING:
    from strongroom.kms.audit.archive import Anchor
    from strongroom.kms.audit.verify_archive import ArchiveVerdict


class Checked(Protocol):
    @property
    def ok(self) -> bool: ...

    def summary(self) -> str: ...


@dataclass(frozen=True, slots=True)
class _Tie:
    problem: str | None
    line: str

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        return self.problem or self.line


def run(args: argparse.Namespace) -> int:
    from strongroom.kms.audit.verify_archive import verify_archives

    if args.data_dir is None and args.archive is not None:
        return _report([verify_archives(args.archive)])
    from strongroom.kms.app import open_data_dir
    from strongroom.kms.audit.archive import load_anchor
    from strongroom.kms.audit.digests import list_digests
    from strongroom.kms.audit.verify import verify_chain
    from strongroom.kms.audit.verify_digests import verify_digests

    data_dir = open_data_dir(load_settings(args.data_dir))
    try:
        verdicts: list[Checked] = [verify_chain(data_dir.db, data_dir.store)]
        anchor = None
        if verdicts[0].ok:
            with data_dir.db.read() as tx:
                anchor = load_anchor(tx.meta)
        hashes = None
        if verdicts[-1].ok and args.archive is not None:
            wanted = [d.last_seq for d in list_digests(args.digests)] if args.digests else []
            archives = verify_archives(args.archive, wanted)
            verdicts.append(archives)
            if archives.ok:
                verdicts.append(_tie(archives, anchor))
                hashes = archives.hashes
        if verdicts[-1].ok and args.digests is not None:
            boundary = None if anchor is None else (anchor.seq, anchor.hash)
            verdicts.append(verify_digests(data_dir.db, args.digests, boundary, hashes))
    finally:
        data_dir.db.engine.dispose()
    return _report(verdicts)


def _tie(archives: ArchiveVerdict, anchor: Anchor | None) -> _Tie:
    if anchor is None:
        return _Tie(
            f"the archives cover seq 1-{archives.last_seq}, but the trail has no archive "
            "anchor: they are not this trail's",
            "",
        )
    newest = archives.newest_manifest
    if (
        archives.last_seq != anchor.seq
        or archives.last_hash != anchor.hash
        or newest is None
        or newest.name != anchor.body.get("archiveManifest")
    ):
        return _Tie(
            f"the archives end at seq {archives.last_seq}, but the trail continues from its "
            f"anchor at seq {anchor.seq} ({anchor.body.get('archiveManifest')}); an archive "
            "is missing or is not this trail's",
            "",
        )
    return _Tie(None, f"the trail continues where the newest archive ends (seq {anchor.seq})")


def _report(verdicts: list[Checked]) -> int:
    for verdict in verdicts:
        if not verdict.ok:
            print(f"strongroom: audit trail damaged: {verdict.summary()}", file=sys.stderr)
            return 1
        print(verdict.summary())
    return 0
