"""OpenAI's organisation Usage and Costs APIs, read with an Admin key (platform.openai.com/docs/api-reference/usage).

GET /v1/organization/usage/completions and GET /v1/organization/costs, `bucket_width=1d`, Unix-second bounds
(`start_time` inclusive, `end_time` exclusive), `group_by` and `project_ids` repeated, `limit` buckets a page
and the `page` cursor from `next_page` while `has_more`. Completions usage lands as usage through
OpenAIUsageSource (the catalogue prices its tokens); costs land as bill lines through OpenAICostsSource,
one billing period per month. Months are read whole (ingest/connectors/llm_reports.py).
"""

import re
from datetime import UTC, datetime

from ingest.connectors.base import Field
from ingest.connectors.llm_reports import AdminReportSource, Report, listed

_PROJECT = re.compile(r"proj_[A-Za-z0-9_-]{1,100}")


class OpenAIAdminSource(AdminReportSource):
    kind = "openai_admin"
    label = "OpenAI usage and costs (Admin API)"
    help = (
        "In the OpenAI platform, open Settings → Organization → Admin keys and create an Admin key (sk-admin-…; "
        "only organisation owners can). Project API keys cannot read the organisation's usage. Each daily run reads "
        "completions usage (by model, project and batch) and costs (by line item and project) for the last weeks."
    )
    fields = (
        Field("admin_key", "Admin key", "sk-admin-…, from Settings → Organization → Admin keys.", secret=True),
        Field(
            "project_ids",
            "Projects (optional)",
            "proj_… ids separated by commas to read only those projects; empty reads the whole organisation.",
            required=False,
        ),
        *AdminReportSource.common_fields,
    )
    provider = "OpenAI"
    default_base_url = "https://api.openai.com"
    start_key = "start_time"
    key_prefix = "sk-admin-"
    key_fix = (
        "Create an Admin key in the OpenAI platform (Settings → Organization → Admin keys; an organisation owner "
        "must do it), paste it here and save. A project key (sk-proj-…) cannot read organisation usage."
    )
    reports = (
        Report(
            name="usage",
            title="completions usage",
            path="/v1/organization/usage/completions",
            kind="usage",
            source="openai_usage",
            group_by=("model", "project_id", "batch"),
        ),
        Report(
            name="costs",
            title="costs",
            path="/v1/organization/costs",
            kind="bill",
            source="openai_costs",
            group_by=("line_item", "project_id"),
        ),
    )

    def clean(self):
        super().clean()
        self.project_ids()

    def project_ids(self) -> list[str]:
        return listed(self.config, "project_ids", _PROJECT.fullmatch, "an OpenAI project id (proj_…)")

    def auth_headers(self, key):
        return {"Authorization": f"Bearer {key}"}

    def query(self, report, start, end, limit):
        params = [("start_time", str(int(start.timestamp())))]
        if end is not None:
            params.append(("end_time", str(int(end.timestamp()))))
        params += [("bucket_width", "1d"), ("limit", str(limit))]
        params += [("group_by", field) for field in report.group_by]
        return params + [("project_ids", project) for project in self.project_ids()]

    def bucket_start(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("start_time is not a whole number of seconds")
        return datetime.fromtimestamp(value, UTC)
