"""Governance pages of a tenant: provider accesses and custom key stores (the exposure report
is ``exposure.py``).

Provider accesses come from the ``ListProviderAccesses`` extension operation, authorized and
audited like any API call.
"""

from __future__ import annotations

from strongroom.console.pages import Page, PageContext


def provider_accesses(ctx: PageContext) -> Page:
    key_id = ctx.request.query.get("key", "")
    request = {"KeyId": key_id} if key_id else {}
    accesses = ctx.pages("ListProviderAccesses", request, "ProviderAccesses")
    return Page(
        "provider_accesses.html",
        {"accesses": accesses, "key_id": key_id},
        title="Provider accesses",
    )


def key_stores(ctx: PageContext) -> Page:
    stores = ctx.pages("DescribeCustomKeyStores", {}, "CustomKeyStores")
    return Page("key_stores.html", {"stores": stores}, title="Custom key stores")
