"""The exposure report as a page: per key and per bucket, who could be compelled to reveal the
data, in words and in charts, with the monthly cost of each option.

It comes from the ``GetExposureReport`` extension operation, authorized and audited like any
API call. A bucket is as exposed as its most exposed objects: a bucket with one object under a
provider-held key counts as "provider, under quorum" even if the rest are under the customer's
own keys; its rows say which objects are under which key.
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
    (
        "external-key-holder-only",
        "Only the holder of the external key",
        "xks",
        "Keys of an external key store: every use needs your external key, which stays in your "
        "own key manager behind your XKS proxy. Strongroom holds only the inner layer of the "
        "double encryption, so only the holder of the external key can be compelled, and "
        "cutting the proxy off stops every use at once.",
    ),
    (
        "exportable",
        "Exportable (KMIP objects)",
        "exportable",
        "Keys made through KMIP leave the KMS through KMIP Get: whoever may export them "
        "(kms:ExportKeyMaterial) holds the plaintext key, and so does the provider, under "
        "operator quorum.",
    ),
    (
        "customer-key-only",
        "Only you (SSE-C object keys)",
        "sse-c",
        "Objects encrypted with keys you send with each request (SSE-C). Strongroom never "
        "stores those keys, so only you can be compelled to reveal these objects. No KMS key "
        "is involved, so nothing is charged.",
    ),
    (
        "unreadable",
        "Nobody (the key was deleted)",
        "gone",
        "Objects under a KMS key that has been deleted: nobody can decrypt them any more.",
    ),
)
KEY_CLASSES = (
    "provider-under-quorum",
    "customer-hsm-only",
    "external-key-holder-only",
    "exportable",
)


# Shown even with no key in them: the choice every tenant has.
_ALWAYS = ("provider-under-quorum", "customer-hsm-only")


def key_exposure(ctx: PageContext, key_arn: str) -> Outcome[dict[str, Any]]:
    """The report's row for one key (the page shows the error when the report is denied)."""
    report = ctx.attempt("GetExposureReport")
    if report.value is None:
        return Outcome(error=report.error)
    for row in report.value["ExposureReport"]["Keys"]:
        if row["KeyArn"] == key_arn:
            return Outcome(row)
    return Outcome()


def exposure(ctx: PageContext) -> Page:
    answer = ctx.attempt("GetExposureReport")
    if answer.value is None:
        return Page(
            "exposure.html", {"error": answer.error, "report": None}, title="Exposure report"
        )
    report = answer.value["ExposureReport"]
    keys = report["Keys"]
    buckets = report.get("Buckets", [])
    lowered = [k for k in keys if any("protection lowered" in f for f in k["Flags"])]
    options: list[dict[str, Any]] = []
    for name, label, css, words in CLASSES:
        members = [k for k in keys if k["Exposure"] == name]
        held = [b for b in buckets if b["Exposures"][:1] == [name]]
        if not held and (name not in KEY_CLASSES or (not members and name not in _ALWAYS)):
            continue
        key_cost = sum(float(k["MonthlyUsd"]) for k in members)
        hsm_cost = float(report["HsmMonthlyUsd"]) if name == "customer-hsm-only" else 0.0
        options.append(
            {
                "name": name,
                "label": label,
                "css": css,
                "words": words,
                "count": len(members),
                "buckets": len(held),
                "key_cost": key_cost,
                "hsm_cost": hsm_cost,
                "total": key_cost + hsm_cost,
            }
        )
    chart = bar_chart(
        [(o["label"], o["count"], o["css"]) for o in options if o["name"] in KEY_CLASSES]
        + [("Protection lowered", len(lowered), "lowered")],
        "keys",
    )
    bucket_chart = bar_chart([(o["label"], o["buckets"], o["css"]) for o in options], "buckets")
    return Page(
        "exposure.html",
        {
            "error": None,
            "report": report,
            "options": options,
            "chart": chart,
            "buckets": [_bucket_row(b) for b in buckets],
            "bucket_chart": bucket_chart,
            "labels": {name: label for name, label, _, _ in CLASSES},
            "css": {name: css for name, _, css, _ in CLASSES},
        },
        title="Exposure report",
    )


def _bucket_row(bucket: dict[str, Any]) -> dict[str, Any]:
    """A bucket with its verdict (its most exposed objects') and a readable size."""
    return {
        **bucket,
        "verdict": (bucket["Exposures"] or ["none"])[0],
        "size": size(bucket["Bytes"]),
    }


def size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
