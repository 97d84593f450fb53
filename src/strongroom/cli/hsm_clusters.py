"""``strongroom admin hsm-clusters``: register the HSM clusters tenants may use for custom key
stores (removal is a quorum act: ``strongroom operator propose remove-hsm-cluster``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strongroom.kms.service.admin_error import AdminError

if TYPE_CHECKING:
    from strongroom.kms.app import DataDir

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def add_verbs(things: Any, run: Any) -> None:
    verbs = things.add_parser(
        "hsm-clusters", help="register and list HSM clusters for custom key stores"
    ).add_subparsers(dest="verb", required=True)
    register = verbs.add_parser("register", help="register an HSM cluster (PKCS#11 tokens)")
    register.add_argument("cluster_id", help="cluster-<11 to 16 letters or digits 2-7>")
    register.add_argument("--module", default=DEFAULT_MODULE, help="the PKCS#11 module path")
    register.add_argument(
        "--token",
        dest="tokens",
        action="append",
        required=True,
        help="the label of one token (HSM) of the cluster; repeat for each, in failover order",
    )
    register.add_argument(
        "--trust-anchor",
        type=Path,
        required=True,
        help="the customer's trust anchor certificate (customerCA.crt, PEM)",
    )
    register.set_defaults(run=run(_register))
    verbs.add_parser("list", help="list registered clusters").set_defaults(
        run=run(lambda d, _x: [c.listing() for c in d.hsm_clusters.list()])
    )


def _register(data_dir: DataDir, args: argparse.Namespace) -> dict[str, object]:
    try:
        anchor = args.trust_anchor.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise AdminError(f"cannot read the trust anchor {args.trust_anchor}") from None
    return data_dir.hsm_clusters.register(
        args.cluster_id, args.module, args.tokens, anchor
    ).listing()
