"""``strongroom admin migrate-root-key``: move the default store's root key into an HSM."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from strongroom.kms.config import load_settings


def add_parser(things: Any) -> None:
    parser = things.add_parser(
        "migrate-root-key",
        help="re-wrap everything under a new root key in a PKCS#11 token (stop servers first)",
    )
    parser.add_argument(
        "--to-pkcs11", action="store_true", required=True, help="move to a PKCS#11 token key"
    )
    parser.add_argument("--module", required=True, help="path of the PKCS#11 module (.so)")
    parser.add_argument("--token-label", required=True, help="label of the token")
    pin = parser.add_mutually_exclusive_group()
    pin.add_argument("--pin-file", help="file holding the user PIN (mode 0600)")
    pin.add_argument(
        "--pin-env",
        default="STRONGROOM_HSM_PIN",
        help="environment variable holding the user PIN (default STRONGROOM_HSM_PIN)",
    )
    parser.add_argument(
        "--key-label",
        default="strongroom-root-v1",
        help="label of the root key in the token; generated there if absent",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: parsing any strongroom command line should not load PKCS#11.
    from strongroom.kms.rootkey.migration import MigrationError, migrate_to_hsm
    from strongroom.kms.rootkey.setup import read_pin
    from strongroom.kms.service.admin_error import AdminError

    settings = load_settings(args.data_dir)
    target = settings.with_overrides(
        root_key="pkcs11",
        hsm_module=args.module,
        hsm_token_label=args.token_label,
        hsm_key_label=args.key_label,
        hsm_pin_file=args.pin_file or "",
        hsm_pin_env=args.pin_env,
    )
    pin = read_pin(target.hsm_pin_file, target.hsm_pin_env)
    try:
        result = migrate_to_hsm(settings, target, pin, datetime.now(UTC))
    except MigrationError as error:
        raise AdminError(f"migrate-root-key: {error}; nothing was changed") from None
    print(
        json.dumps(
            {
                "RootKey": result.root_key,
                "RewrappedMaterials": result.materials,
                "RewrappedSecrets": result.secrets,
                "ConfigFile": str(result.config_file),
                "RetiredRootKeyFile": str(result.retired_root_key or ""),
            },
            indent=2,
        )
    )
    return 0
