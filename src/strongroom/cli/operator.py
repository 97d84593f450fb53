"""``strongroom operator``: the provider's operators and their quorum-approved acts.

keygen and init set the operators up; propose, approve, list, show and execute run the M-of-N
flow (kms/governance/quorum.py); sign signs what the web console's operator pages show. Every
operator signs with their own private key file.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strongroom.kms.config import load_settings

if TYPE_CHECKING:
    from strongroom.kms.governance.quorum import Quorum, Status


def add_parser(commands: Any) -> None:
    from strongroom.cli.options import add_data_dir

    parser = commands.add_parser(
        "operator", help="provider operators: key pairs, enrolment and M-of-N approvals"
    )
    verbs = parser.add_subparsers(dest="verb", required=True)

    keygen = verbs.add_parser(
        "keygen", help="write an Ed25519 key pair NAME.key (0600) and NAME.pub.pem"
    )
    keygen.add_argument("name")
    keygen.add_argument("--out", type=Path, required=True, help="directory for the two files")
    _add_passphrase_options(keygen, "encrypt the private key with this passphrase")
    keygen.set_defaults(run=_keygen)

    init = verbs.add_parser("init", help="enrol the first operators and set the threshold M")
    add_data_dir(init)
    init.add_argument("--threshold", type=int, required=True, help="M (2 or more recommended)")
    init.add_argument(
        "--operator", action="append", required=True, metavar="NAME=PUBKEY.pem", dest="members"
    )
    init.set_defaults(run=_with_quorum(_init))

    roster = verbs.add_parser("roster", help="the operators and the threshold in force")
    add_data_dir(roster)
    roster.set_defaults(run=_with_quorum(_roster))

    propose = verbs.add_parser("propose", help="propose a privileged act (signed: first approval)")
    add_data_dir(propose)
    propose.add_argument(
        "action",
        help="provider-decrypt, enrol-operator, remove-operator, "
        "set-threshold, rotate-root-key or remove-hsm-cluster",
    )
    propose.add_argument("--key", type=Path, required=True, help="your private key file")
    _add_passphrase_options(propose)
    propose.add_argument("--justification", required=True)
    propose.add_argument("--expires-in-hours", type=float, default=24.0)
    _add_action_options(propose)
    propose.set_defaults(run=_with_quorum(_propose))

    approve = verbs.add_parser("approve", help="sign a proposal with your private key")
    add_data_dir(approve)
    approve.add_argument("proposal_id")
    approve.add_argument("--key", type=Path, required=True)
    _add_passphrase_options(approve)
    approve.set_defaults(run=_with_quorum(_approve))

    listing = verbs.add_parser("list", help="all proposals and their state")
    add_data_dir(listing)
    listing.set_defaults(run=_with_quorum(lambda q, a: [_status(s) for s in q.proposals()]))

    show = verbs.add_parser("show", help="one proposal, its approvals and its canonical bytes")
    add_data_dir(show)
    show.add_argument("proposal_id")
    show.set_defaults(run=_with_quorum(lambda q, a: _status(q.status(a.proposal_id), full=True)))

    execute = verbs.add_parser("execute", help="run an approved proposal (once)")
    add_data_dir(execute)
    execute.add_argument("proposal_id")
    execute.add_argument("--key", type=Path, required=True)
    _add_passphrase_options(execute)
    execute.add_argument("--out", type=Path, help="provider-decrypt: where the plaintexts go")
    execute.set_defaults(run=_with_quorum(_execute))

    sign = verbs.add_parser(
        "sign",
        help="sign the bytes the web console shows (a proposal or a sign-in) with your key",
    )
    sign.add_argument(
        "bytes_base64", nargs="?", help="the bytes, base64 (default: read standard input)"
    )
    sign.add_argument("--key", type=Path, required=True, help="your private key file")
    _add_passphrase_options(sign)
    sign.set_defaults(run=_sign)


def _sign(args: argparse.Namespace) -> int:
    from strongroom.cli.operator_sign import sign

    return sign(args, _passphrase(args))


def _add_passphrase_options(
    parser: argparse.ArgumentParser, purpose: str = "the passphrase of your private key"
) -> None:
    """Where a key file's passphrase comes from: a file (0600) or a variable, never argv."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--passphrase-file", type=Path, help=f"a file holding {purpose}")
    source.add_argument(
        "--passphrase-env", metavar="VARIABLE", help=f"a variable holding {purpose}"
    )


def _passphrase(args: argparse.Namespace) -> bytes | None:
    from strongroom.kms.governance.errors import GovernanceError

    if args.passphrase_env:
        value = os.environ.get(args.passphrase_env)
        if not value:
            raise GovernanceError(f"the variable {args.passphrase_env} is not set")
        return value.encode()
    path: Path | None = args.passphrase_file
    if path is None:
        return None
    try:
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise GovernanceError(f"passphrase file {path} is accessible by others; chmod 600 it")
        return path.read_bytes().rstrip(b"\r\n")
    except OSError as error:
        raise GovernanceError(f"cannot read {path}: {error.strerror}") from None


def _add_action_options(propose: argparse.ArgumentParser) -> None:
    """The parameters of each action (only the proposed action's are used)."""
    propose.add_argument("--key-id", help="provider-decrypt: the tenant key (id or ARN)")
    propose.add_argument(
        "--ciphertext-file",
        type=Path,
        action="append",
        default=[],
        help="provider-decrypt: a file holding one ciphertext blob (repeatable)",
    )
    propose.add_argument("--encryption-context", help="provider-decrypt: a JSON object")
    propose.add_argument("--reason-code", help="provider-decrypt: e.g. LEGAL_ORDER")
    propose.add_argument("--reference", help="provider-decrypt: e.g. the court order number")
    propose.add_argument("--name", help="enrol-operator / remove-operator: the operator")
    propose.add_argument("--public-key", type=Path, help="enrol-operator: PUBKEY.pem")
    propose.add_argument("--threshold", type=int, help="set-threshold: the new M")
    propose.add_argument("--cluster-id", help="remove-hsm-cluster: the cluster")
    propose.add_argument(
        "--new-key-label",
        help="rotate-root-key of an HSM root key: label of the new key (generated in the token)",
    )
    propose.add_argument(
        "--new-token-label",
        help="rotate-root-key of an HSM root key: another token (default: the same one)",
    )


def _keygen(args: argparse.Namespace) -> int:
    from strongroom.kms.governance.operators import keygen

    private, public = keygen(args.name, args.out, _passphrase(args))
    print(json.dumps({"PrivateKey": str(private), "PublicKey": str(public)}, indent=2))
    return 0


Run = Callable[["Quorum", argparse.Namespace], object]


@contextmanager
def _quorum(data_dir_path: Path | None) -> Iterator[Quorum]:
    from strongroom.kms.app import open_data_dir
    from strongroom.kms.audit.store import AuditChain
    from strongroom.kms.governance.quorum import Quorum

    data = open_data_dir(load_settings(data_dir_path))
    region = data.settings.region
    try:
        yield Quorum(
            data.governance_env(), AuditChain(data.store, region, data.clock.now), data.clock
        )
    finally:
        data.db.engine.dispose()


def _with_quorum(action: Run) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        with _quorum(args.data_dir) as quorum:
            result = action(quorum, args)
        if result is not None:
            print(json.dumps(result, indent=2))
        return 0

    return run


def _init(quorum: Quorum, args: argparse.Namespace) -> object:
    from strongroom.kms.governance.errors import GovernanceError
    from strongroom.kms.governance.operators import load_public_key

    members = []
    for item in args.members:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise GovernanceError(f"--operator takes NAME=PUBKEY.pem, not {item!r}")
        members.append((name, load_public_key(Path(path))))
    quorum.initialise(args.threshold, members)
    if args.threshold < 2:
        print(
            "strongroom: warning: M=1 lets one operator act alone; M>=2 is recommended",
            file=sys.stderr,
        )
    return _roster(quorum, args)


def _roster(quorum: Quorum, args: argparse.Namespace) -> object:
    from strongroom.kms.governance.operators import fingerprint

    threshold, members = quorum.roster()
    return {
        "Threshold": threshold,
        "Operators": [
            {
                "Name": op.name,
                "PublicKey": fingerprint(op.public_key),
                "Enrolled": op.enrolled_at.isoformat(),
                "Removed": None if op.removed_at is None else op.removed_at.isoformat(),
            }
            for op in members
        ],
    }


def _signer(quorum: Quorum, args: argparse.Namespace) -> tuple[str, Callable[[bytes], bytes]]:
    """The operator a private key file belongs to, and a signing function with it."""
    from strongroom.kms.governance.operators import load_private_key, raw_public_key

    key = load_private_key(args.key, _passphrase(args))
    operator = quorum.operator_by_key(raw_public_key(key.public_key()))
    return operator.name, key.sign


def _parameters(args: argparse.Namespace) -> dict[str, object]:
    from strongroom.kms.governance.errors import GovernanceError
    from strongroom.kms.governance.operators import load_public_key

    if args.action == "provider-decrypt":
        blobs = []
        for path in args.ciphertext_file:
            try:
                blobs.append(base64.b64encode(path.read_bytes()).decode())
            except OSError as error:
                raise GovernanceError(f"cannot read {path}: {error.strerror}") from None
        try:
            context = json.loads(args.encryption_context) if args.encryption_context else {}
        except json.JSONDecodeError:
            raise GovernanceError("--encryption-context is not JSON") from None
        return {
            "keyId": args.key_id,
            "ciphertexts": blobs,
            "encryptionContext": context,
            "reasonCode": args.reason_code,
            "reference": args.reference,
        }
    if args.action == "enrol-operator":
        if args.public_key is None:
            raise GovernanceError("enrol-operator needs --name and --public-key")
        raw = load_public_key(args.public_key)
        return {"name": args.name, "publicKey": base64.b64encode(raw).decode()}
    if args.action == "remove-operator":
        return {"name": args.name}
    if args.action == "set-threshold":
        return {"threshold": args.threshold}
    if args.action == "remove-hsm-cluster":
        return {"clusterId": args.cluster_id}
    if args.action == "rotate-root-key":
        given = {"keyLabel": args.new_key_label, "tokenLabel": args.new_token_label}
        return {name: value for name, value in given.items() if value is not None}
    return {}


def _propose(quorum: Quorum, args: argparse.Namespace) -> object:
    name, sign = _signer(quorum, args)
    status = quorum.propose(
        proposer=name,
        action=args.action,
        parameters=_parameters(args),
        justification=args.justification,
        sign=sign,
        ttl=timedelta(hours=args.expires_in_hours),
    )
    return _status(status)


def _approve(quorum: Quorum, args: argparse.Namespace) -> object:
    name, sign = _signer(quorum, args)
    status = quorum.status(args.proposal_id)
    return _status(quorum.approve(args.proposal_id, name, sign(status.message)))


def _execute(quorum: Quorum, args: argparse.Namespace) -> object:
    from strongroom.kms.governance.errors import GovernanceError

    name, sign = _signer(quorum, args)
    status = quorum.status(args.proposal_id)
    if status.proposal.action == "provider-decrypt" and args.out is None:
        raise GovernanceError("provider-decrypt needs --out FILE for the plaintexts")
    if args.out is not None and args.out.exists():
        raise GovernanceError(f"{args.out} exists already; not overwriting it")
    outcome = quorum.execute(args.proposal_id, name, sign(status.message))
    if outcome.output is not None and args.out is not None:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(outcome.output)
    return {"ProposalId": args.proposal_id, "Executed": dict(outcome.summary)}


def _status(status: Status, *, full: bool = False) -> dict[str, object]:
    p = status.proposal
    shown: dict[str, object] = {
        "ProposalId": p.proposal_id,
        "Action": p.action,
        "State": status.state,
        "Proposer": p.proposer,
        "Justification": p.justification,
        "Created": p.created_at.isoformat(),
        "Expires": p.expires_at.isoformat(),
        "Threshold": status.threshold,
        "CountedApprovals": list(status.counted),
    }
    if p.executed_at is not None:
        shown["Executed"] = {"At": p.executed_at.isoformat(), "By": p.executed_by}
    if full:
        shown["Parameters"] = dict(p.parameters)
        shown["Approvals"] = [
            {"Operator": a.operator, "At": a.approved_at.isoformat()} for a in status.approvals
        ]
        shown["CanonicalBytesBase64"] = base64.b64encode(status.message).decode()
    return shown
