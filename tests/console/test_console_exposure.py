"""The exposure report page covers buckets as well as keys: who could be compelled to reveal
each bucket's objects, in words, in a chart and in the options' table."""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re

from tests.support.console import ConsoleClient, ConsoleWorld
from tests.support.s3 import bucket_name, kms_bucket, s3_client


def _bucket_rows(page: str, bucket: str) -> str:
    """The table rows of one bucket (its row group) in the per-bucket table."""
    table = page[page.index('id="exposure-buckets"') :]
    start = table.index(f"<code>{bucket}</code>")
    end = table.find('<th scope="rowgroup"', start)
    rows = table[start : end if end > 0 else len(table)]
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", rows).split()))


def test_buckets_are_in_the_exposure_report_page(
    world: ConsoleWorld, client: ConsoleClient
) -> None:
    key = world.kms("admin").create_key(Description="bucket key")["KeyMetadata"]
    s3 = s3_client(world.server)
    provider_held = kms_bucket(s3, key["Arn"])
    s3.put_object(Bucket=provider_held, Key="a.txt", Body=b"under a KMS key")
    s3.put_object(Bucket=provider_held, Key="b.txt", Body=b"also under it")
    mine = os.urandom(32)
    ssec = {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(mine).decode(),
        "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(mine).digest()).decode(),
    }
    customer_only = bucket_name("ssec")
    s3.create_bucket(Bucket=customer_only)
    s3.put_object(Bucket=customer_only, Key="secret.txt", Body=b"my key only", **ssec)
    empty = bucket_name("empty")
    s3.create_bucket(Bucket=empty)

    client.sign_in(world.keys["keyadmin"])
    page = client.get("/console/exposure")
    assert page.status == 200
    held = _bucket_rows(page.body, provider_held)
    assert "Provider, under operator quorum" in held
    assert f"2 objects with aws:kms under {key['KeyId']}" in held
    assert f'href="/console/keys/{key["KeyId"]}"' in page.body
    own = _bucket_rows(page.body, customer_only)
    assert "Only you (SSE-C object keys)" in own
    assert "SSE-C keys are never stored" in own
    assert "No objects yet" in _bucket_rows(page.body, empty)
    description = re.search(r'<desc id="bucket-chart-desc">([^<]*)</desc>', page.body)
    assert description
    counts = dict(part.rsplit(": ", 1) for part in html.unescape(description.group(1)).split("; "))
    assert int(counts["Provider, under operator quorum"].split()[0]) >= 1
    assert int(counts["Only you (SSE-C object keys)"].split()[0]) >= 1
    options = page.body[page.body.index('id="options"') :]
    row = re.search(r"Only you \(SSE-C object keys\).*?</tr>", options, re.S)
    assert row and "0.00 USD" in row.group(0)


def test_a_user_without_the_report_permission_sees_the_refusal(
    world: ConsoleWorld, client: ConsoleClient
) -> None:
    client.sign_in(world.keys["reader"])
    page = client.get("/console/exposure")
    assert "AccessDeniedException" in page.body
    assert 'id="exposure-buckets"' not in page.body
