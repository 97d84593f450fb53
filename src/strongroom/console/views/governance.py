"""Governance pages: the exposure report, provider accesses, custom key stores.

The exposure report (who could be compelled to reveal each key, with a chart) comes from the
``GetExposureReport`` extension operation and provider accesses from ``ListProviderAccesses``,
both authorized and audited like any API call.
"""

from __future__ import annotations

from typing import Any

from strongroom.console.chart import bar_chart
from strongroom.console.pages import Outcome, Page, PageContext

CLASSES = (
    (
        "provider-under-quorum",
        "Provider, under operator quorum",
        "quorum",
        "Strongroom holds the key material. The provider's operators could be compelled to use "
        "it, and can reach it only when M of N of them approve; every such access appears in "
        "your audit trail and under Provider accesses.",
    ),
    (
        "customer-hsm-only",
        "Only you (your HSM)",
        "hsm",
        "The key never leaves your own HSM. The provider cannot use it, so only you can be "
        "compelled to reveal the data it protects.",
    ),
)


def key_exposure(ctx: PageContext, key_arn: str) -> Outcome[dict[str, Any]]:
    """The report's row for one key (the page shows the error when the report is denied)."""
    report = ctx.attempt("GetExposureReport")
    if report.value is None:
        return Outcome(error=report.error)
    for row in report.value["ExposureReport"]["keys"]:
        if row["key_arn"] == key_arn:
            return Outcome(row)
    return Outcome()


def exposure(ctx: PageContext) -> Page:
    answer = ctx.attempt("GetExposureReport")
    if answer.value is None:
        return Page("exposure.html", {"error": answer.error}, title="Exposure report")
    report = answer.value["ExposureReport"]
    keys = report["keys"]
    lowered = [k for k in keys if any("protection lowered" in f for f in k["flags"])]
    options: list[dict[str, Any]] = []
    for name, label, css, words in CLASSES:
        members = [k for k in keys if k["exposure"] == name]
        key_cost = sum(float(k["monthly_usd"]) for k in members)
        hsm_cost = float(report["hsm_monthly_usd"]) if name == "customer-hsm-only" else 0.0
        options.append(
            {
                "name": name,
                "label": label,
                "css": css,
                "words": words,
                "count": len(members),
                "key_cost": key_cost,
                "hsm_cost": hsm_cost,
                "total": key_cost + hsm_cost,
            }
        )
    chart = bar_chart(
        [(o["label"], o["count"], o["css"]) for o in options]
        + [("Protection lowered", len(lowered), "lowered")],
        "keys",
    )
    return Page(
        "exposure.html",
        {"error": None, "report": report, "options": options, "chart": chart},
        title="Exposure report",
    )


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
