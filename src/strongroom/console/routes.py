"""The console's route table: method, path pattern, handler. Sign-in and assets are the
application's own; every route here needs a session, and every POST a CSRF token."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from strongroom.console.http import Response
from strongroom.console.pages import Page, PageContext
from strongroom.console.views import (
    audit,
    exposure,
    governance,
    key_edits,
    key_forms,
    key_import,
    keys,
    operators,
)

KEY = r"/console/keys/([A-Za-z0-9-]+)"


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: str
    handler: Callable[..., Page | Response]
    name: str
    # Who may open it: "tenant" (an access key's session), "operator", or "any" (sign-out).
    realm: str = "tenant"


def _sign_out(ctx: PageContext) -> Response:
    raise AssertionError("the application signs out itself")


def _action(name: str) -> Callable[[PageContext, str], Page | Response]:
    return lambda ctx, key_id: key_forms.key_action(ctx, key_id, name)


ROUTES: tuple[Route, ...] = (
    Route("POST", r"/console/sign-out", _sign_out, "sign-out", "any"),
    Route("GET", r"/console/keys", keys.keys_list, "keys"),
    Route("GET", r"/console/keys/new", key_forms.new_key_form, "new-key"),
    Route("POST", r"/console/keys", key_forms.create_key, "create-key"),
    Route("GET", KEY, keys.key_detail, "key"),
    Route("POST", KEY + "/policy", key_forms.put_policy, "put-policy"),
    Route("POST", KEY + "/schedule-deletion", key_forms.schedule_deletion, "schedule-deletion"),
    *(Route("POST", f"{KEY}/{name}", _action(name), name) for name in key_forms.ACTIONS),
    *(Route("POST", f"{KEY}/{path}", edit, path) for path, edit in key_edits.EDITS.items()),
    Route("GET", KEY + "/import", key_import.import_form, "import-form"),
    Route("POST", KEY + "/import", key_import.import_material, "import"),
    Route("GET", r"/console/exposure", exposure.exposure, "exposure"),
    Route("GET", r"/console/provider-accesses", governance.provider_accesses, "accesses"),
    Route("GET", r"/console/key-stores", governance.key_stores, "key-stores"),
    Route("GET", r"/console/audit", audit.audit_trail, "audit"),
    *(
        Route(method, pattern, handler, name, "operator")
        for method, pattern, handler, name in operators.ROUTES
    ),
)
