"""``strongroom report exposure``: who could be compelled to reveal each key's data, and how."""

from __future__ import annotations

import argparse
import html
import json
import sys
from typing import TYPE_CHECKING, Any

from strongroom.kms.config import load_settings

if TYPE_CHECKING:
    from strongroom.kms.governance.exposure import ExposureReport


def add_parser(commands: Any) -> None:
    from strongroom.cli.options import add_data_dir

    parser = commands.add_parser("report", help="governance reports")
    reports = parser.add_subparsers(dest="report", required=True)
    exposure = reports.add_parser(
        "exposure",
        help="per key: provider-under-quorum or customer-hsm-only, rotation, provider "
        "accesses so far, estimated monthly cost",
    )
    add_data_dir(exposure)
    exposure.add_argument("--account", help="only this account's keys")
    exposure.add_argument("--format", choices=("table", "json", "html"), default="table")
    exposure.add_argument(
        "--key-usd", type=float, help="USD per key and month (default: key_usd_month, 1)"
    )
    exposure.add_argument(
        "--hsm-usd", type=float, help="USD per HSM and month (default: hsm_usd_month, 1000)"
    )
    exposure.add_argument(
        "--hsms-per-cluster",
        type=int,
        default=2,
        help="HSMs counted for a cluster that is no longer registered (a registered cluster "
        "counts its tokens)",
    )
    exposure.add_argument(
        "--endpoint-url",
        help="as a tenant: fetch your own account's report from this server (GetExposureReport, "
        "signed with your AWS credentials) instead of reading the data directory",
    )
    exposure.add_argument("--profile", help="with --endpoint-url: AWS profile")
    exposure.add_argument("--region", help="with --endpoint-url: AWS region")
    exposure.set_defaults(run=_exposure)


def _tenant_exposure(args: argparse.Namespace) -> int:
    """The caller's own report through the API, as ``aws kms get-exposure-report`` gives it."""
    import botocore.session

    from strongroom.cli.extension_call import ExtensionCallError, call_extension

    session = botocore.session.Session(profile=args.profile)
    region = args.region or session.get_config_variable("region")
    if not region or args.format == "html":
        problem = "no AWS region: pass --region" if not region else "--format html needs --data-dir"
        print(f"strongroom report exposure: {problem}", file=sys.stderr)
        return 2
    try:
        answer = call_extension(session, args.endpoint_url, region, "GetExposureReport", {})
    except ExtensionCallError as error:
        print(f"strongroom report exposure: {error}", file=sys.stderr)
        return 2
    report = answer["ExposureReport"]
    if args.format == "json":
        print(json.dumps(report, indent=2))
        return 0
    for row in report["Keys"]:
        print(
            f"{row['KeyArn']}  {row['Exposure']}  {row['State']}  {row['Rotation']}  "
            f"provider accesses {row['ProviderAccesses']}  {row['MonthlyUsd']:.2f} USD/month"
        )
    print(f"Estimated total: {report['TotalMonthlyUsd']:.2f} USD/month")
    return 0


def _exposure(args: argparse.Namespace) -> int:
    if args.endpoint_url:
        return _tenant_exposure(args)
    from strongroom.kms.app import open_data_dir
    from strongroom.kms.governance.exposure import Rates, accounts_report
    from strongroom.objectstore.inventory import StoreInventory
    from strongroom.objectstore.storage.inventory import InventoryRecords

    settings = load_settings(args.data_dir)
    data = open_data_dir(settings)
    try:
        accounts = (
            [args.account] if args.account else [a.account_id for a in data.admin.list_accounts()]
        )
        rates = Rates(
            settings.key_usd_month if args.key_usd is None else args.key_usd,
            settings.hsm_usd_month if args.hsm_usd is None else args.hsm_usd,
            args.hsms_per_cluster,
        )
        inventory = StoreInventory(InventoryRecords(data.db.engine, data.db.read_engine()))
        report = accounts_report(data.db, accounts, data.clock.now(), rates, inventory)
    finally:
        data.db.engine.dispose()
    render = {"table": table, "json": _json, "html": html_page}[args.format]
    print(render(report))
    return 0


def _json(report: ExposureReport) -> str:
    return json.dumps(report.to_json(), indent=2)


_COLUMNS = (
    "Key",
    "Exposure",
    "Origin",
    "State",
    "Rotation",
    "Import expiry",
    "Provider accesses",
    "USD/month",
)


def _cells(report: ExposureReport) -> list[tuple[str, ...]]:
    return [
        (
            k.key_arn,
            k.exposure + "".join(f" [{flag.split(':')[0]}]" for flag in k.flags),
            k.origin,
            k.state,
            k.rotation,
            k.import_expiry or "-",
            str(k.provider_accesses),
            f"{k.monthly_usd:.2f}",
        )
        for k in report.keys
    ]


def table(report: ExposureReport) -> str:
    rows = [_COLUMNS, *_cells(report)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    for k in report.keys:
        for flag in k.flags:
            lines.append(f"{k.key_arn}: {flag}")
    lines.append(
        f"HSM clusters: {len(report.hsm_clusters)}, HSMs: {report.hsms} "
        f"({report.hsm_monthly_usd:.2f} USD/month)"
    )
    lines.append(f"Estimated total: {report.total_monthly_usd:.2f} USD/month")
    lines += _bucket_lines(report)
    return "\n".join(lines).rstrip()


def _bucket_lines(report: ExposureReport) -> list[str]:
    """Per bucket: its objects, and who could be compelled to reveal them under each key."""
    lines: list[str] = []
    for bucket in report.buckets:
        lines += [
            "",
            f"Bucket {bucket.bucket} ({bucket.account_id}): {bucket.objects} objects, "
            f"{bucket.bytes} bytes, default {bucket.default_encryption}",
        ]
        for key in bucket.keys:
            where = key.key_arn or "customer-provided keys (SSE-C)"
            via = " via bucket key" if key.bucket_key else ""
            lines.append(
                f"  {key.sse}{via} {where}: {key.objects} objects, {key.bytes} bytes, "
                f"{len(key.key_versions)} key versions; {key.exposure}: {key.how}"
            )
    return lines


def html_page(report: ExposureReport) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in _COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in _cells(report)
    )
    flags = "".join(
        f"<li>{html.escape(k.key_arn)}: {html.escape(flag)}</li>"
        for k in report.keys
        for flag in k.flags
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Key exposure</title></head>'
        "<body><h1>Key exposure</h1>"
        f"<p>Generated {html.escape(report.generated_at.isoformat())}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<ul>{flags}</ul>"
        f"<p>HSM clusters: {len(report.hsm_clusters)}, HSMs: {report.hsms} "
        f"({report.hsm_monthly_usd:.2f} USD/month). "
        f"Estimated total: {report.total_monthly_usd:.2f} USD/month.</p>"
        f"<pre>{html.escape(chr(10).join(_bucket_lines(report)).strip())}</pre></body></html>"
    )
