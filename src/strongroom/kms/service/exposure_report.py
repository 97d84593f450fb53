"""GetExposureReport: a Strongroom extension of the KMS API (not in AWS's model).

A tenant fetches the exposure report of its own keys (``strongroom report exposure --account``
for the provider's operators): for every key, whether the provider could be compelled to reveal
the data (under its operators' quorum) or only the customer's HSM can, why, rotation, import
expiry, provider accesses so far and the estimated monthly cost. Authorized by identity
policies as ``kms:GetExposureReport`` (no key is named). Reads the database and the audit
trail: not a hot-path operation.
"""

from __future__ import annotations

from strongroom.kms.governance.exposure import Rates, accounts_report
from strongroom.kms.service.pipeline import Call, Operation, Response

NAME = "GetExposureReport"
ACTION = "kms:GetExposureReport"
INPUT_MEMBERS: dict[str, str] = {}


def get_exposure_report(call: Call) -> Response:
    ctx = call.ctx
    key_usd, hsm_usd = ctx.cost_rates
    report = accounts_report(
        ctx.db, [call.caller.account_id], ctx.clock.now(), Rates(key_usd, hsm_usd), ctx.objects
    )
    return {"ExposureReport": report.to_json()}


EXTENSIONS = (Operation(NAME, get_exposure_report, action=ACTION),)
