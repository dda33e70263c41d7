"""Anthropic's Admin API usage and cost reports (platform.claude.com/docs/en/api/admin/usage_report, cost_report).

GET /v1/organizations/usage_report/messages and GET /v1/organizations/cost_report with the headers x-api-key
(an Admin API key, sk-ant-admin…) and anthropic-version: 2023-06-01; `starting_at` and `ending_at` in RFC 3339,
`bucket_width=1d`, `group_by[]` repeated, `limit` buckets a page and the `page` cursor from `next_page` while
`has_more`. Usage lands through AnthropicUsageSource (tokens; the catalogue prices them), costs (cents as
decimal strings) as bill lines through AnthropicCostSource. The cost report leaves out Priority Tier spend.
"""

from datetime import datetime

from ingest.connectors.base import Field
from ingest.connectors.llm_reports import AdminReportSource, Report

API_VERSION = "2023-06-01"


class AnthropicAdminSource(AdminReportSource):
    kind = "anthropic_admin"
    label = "Anthropic usage and costs (Admin API)"
    help = (
        "In the Claude Console, open Settings → Admin keys and create an Admin API key (sk-ant-admin…; only "
        "organisation admins can, and individual accounts have none). Each daily run reads the Messages usage "
        "report (by model, workspace, service tier and context window) and the cost report (by workspace and "
        "description) for the last weeks. The cost report leaves out Priority Tier spend."
    )
    fields = (
        Field("admin_key", "Admin API key", "sk-ant-admin…, from Console → Settings → Admin keys.", secret=True),
        *AdminReportSource.common_fields,
    )
    provider = "Anthropic"
    default_base_url = "https://api.anthropic.com"
    start_key = "starting_at"
    key_prefix = "sk-ant-admin"
    key_fix = (
        "Create an Admin API key in the Claude Console (Settings → Admin keys; an organisation admin must do it), "
        "paste it here and save. A regular API key (sk-ant-api…) cannot read usage reports."
    )
    reports = (
        Report(
            name="usage",
            title="Messages usage report",
            path="/v1/organizations/usage_report/messages",
            kind="usage",
            source="anthropic_usage",
            group_by=("model", "workspace_id", "service_tier", "context_window"),
        ),
        Report(
            name="costs",
            title="cost report",
            path="/v1/organizations/cost_report",
            kind="bill",
            source="anthropic_costs",
            group_by=("workspace_id", "description"),
        ),
    )

    def auth_headers(self, key):
        return {"x-api-key": key, "anthropic-version": API_VERSION}

    def query(self, report, start, end, limit):
        params = [("starting_at", _rfc3339(start))]
        if end is not None:
            params.append(("ending_at", _rfc3339(end)))
        params += [("bucket_width", "1d"), ("limit", str(limit))]
        return params + [("group_by[]", field) for field in report.group_by]

    def bucket_start(self, value):
        if not isinstance(value, str):
            raise TypeError("starting_at is not text")
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("starting_at has no time zone")
        return moment


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
