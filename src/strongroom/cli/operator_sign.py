"""``strongroom operator sign``: sign the bytes the web console shows, on your own machine.

The console's operator pages show a proposal's canonical bytes (or a sign-in challenge) as
base64; this signs them with your private key file and prints the signature (base64) to paste
back. Only Strongroom proposals and console sign-ins are signed, and what you agree to is
printed first, on standard error: a page cannot make you sign something else unseen.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import sys

from strongroom.kms.governance.errors import GovernanceError
from strongroom.kms.governance.operators import load_private_key
from strongroom.kms.governance.sign_in import describe


def sign(args: argparse.Namespace, passphrase: bytes | None) -> int:
    text = args.bytes_base64 if args.bytes_base64 is not None else sys.stdin.read()
    try:
        message = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise GovernanceError("the bytes to sign are not base64") from None
    meaning = describe(message)
    if meaning is None:
        raise GovernanceError(
            "these bytes are neither a Strongroom proposal nor a console sign-in; not signing"
        )
    key = load_private_key(args.key, passphrase)
    print(f"strongroom: signing {meaning}", file=sys.stderr)
    print(base64.b64encode(key.sign(message)).decode())
    return 0
