from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from accounts import api as accounts_api
from accounts.urls import auth_urls
from accounts.urls import org_urls as accounts_org_urls
from finops import api, views
from ingest import api as ingest_api
from ingest import views as ingest_views
from ingest.urls import org_urls as ingest_org_urls
from pricing.urls import org_urls as pricing_org_urls
from pricing.urls import top_urls as pricing_top_urls

org_pages = [
    path("", views.founder_table, name="finops-founder-table"),
    path("thresholds/", views.thresholds, name="finops-thresholds"),
    path("rules/", views.rules, name="finops-rules"),
    path("rules/<uuid:code>/delete/", views.rule_delete, name="finops-rule-delete"),
    path("decisions/", views.decisions, name="finops-decisions"),
    path("commitments/", views.commitments, name="finops-commitments"),
    path("budgets/", views.budgets, name="finops-budgets"),
    path("budgets/<uuid:code>/delete/", views.budget_remove, name="finops-budget-delete"),
    path("commitments/<uuid:code>/delete/", views.commitment_remove, name="finops-commitment-delete"),
    path("costs/", views.costs, name="finops-costs"),
    path("explore/", views.explore, name="finops-explore"),
    path("customers/", views.customers, name="finops-customers"),
    path("customers/<path:customer>/", views.customer, name="finops-customer"),
    path("usage/", views.usage, name="finops-usage"),
    path("plans/", views.plans, name="finops-plans"),
    path("plans/check/", views.pricing_check, name="finops-pricing-check"),
    path("build-vs-rent/", views.build_vs_rent, name="finops-build-vs-rent"),
    path("gpus/", views.gpus, name="finops-gpus"),
    path("gpus/resources/", views.gpu_resources, name="finops-gpu-resources"),
    path("gpus/<uuid:code>/", views.gpu_host, name="finops-gpu-host"),
    path("gpus/<uuid:code>/edit/", views.gpu_host_edit, name="finops-gpu-host-edit"),
    path("onboarding/", views.onboarding, name="finops-onboarding"),
    path("onboarding/fix/", views.onboarding_fix, name="finops-onboarding-fix"),
    *ingest_org_urls,
    *pricing_org_urls,
    *accounts_org_urls,
]

api_v1 = [
    path("", accounts_api.WhoAmIApi.as_view(), name="api-root"),
    path("api-keys/", accounts_api.ApiKeyListApi.as_view(), name="accounts-api-key-list-api"),
    path("api-keys/<uuid:code>/", accounts_api.ApiKeyRevokeApi.as_view(), name="accounts-api-key-revoke-api"),
    path("agent-tokens/", accounts_api.AgentTokenListApi.as_view(), name="accounts-agent-token-list-api"),
    path(
        "agent-tokens/<uuid:code>/", accounts_api.AgentTokenRevokeApi.as_view(), name="accounts-agent-token-revoke-api"
    ),
    path("uploads/", ingest_api.UploadListApi.as_view(), name="ingest-upload-list-api"),
    path("uploads/<uuid:code>/", ingest_api.UploadDetailApi.as_view(), name="ingest-upload-detail-api"),
    path("ledger/summary/", api.LedgerSummaryApi.as_view(), name="finops-ledger-summary-api"),
    path("founder-table/", api.FounderTableApi.as_view(), name="finops-founder-table-api"),
    path("metrics/weekly/", api.WeeklyMetricsApi.as_view(), name="finops-metrics-weekly-api"),
    path("economics/customers/", api.CustomerEconomicsApi.as_view(), name="finops-customer-economics-api"),
    path("economics/plans/", api.PlanEconomicsApi.as_view(), name="finops-plan-economics-api"),
    path("anomalies/", api.AnomaliesApi.as_view(), name="finops-anomalies-api"),
    path("forecast/", api.ForecastApi.as_view(), name="finops-forecast-api"),
    path("budgets/", api.BudgetListApi.as_view(), name="finops-budget-list-api"),
    path("budgets/<uuid:code>/", api.BudgetDetailApi.as_view(), name="finops-budget-detail-api"),
    path("budget-check/", api.BudgetCheckApi.as_view(), name="finops-budget-check-api"),
    path("budget-check/<uuid:code>/", api.BudgetReservationApi.as_view(), name="finops-budget-reservation-api"),
    path("usage-events/", ingest_api.UsageEventsApi.as_view(), name="ingest-usage-events-api"),
    path("usage-events/delete/", ingest_api.UsageEventsDeleteApi.as_view(), name="ingest-usage-events-delete-api"),
    path("usage/summary/", ingest_api.UsageSummaryApi.as_view(), name="ingest-usage-summary-api"),
    path("reconciliation/", ingest_api.ReconciliationApi.as_view(), name="ingest-reconciliation-api"),
    path("agent/samples/", ingest_api.AgentSamplesApi.as_view(), name="ingest-agent-samples-api"),
    path("hosts/", api.HostListApi.as_view(), name="ingest-host-list-api"),
    path("explore/", api.ExploreApi.as_view(), name="finops-explore-api"),
    path("explore/lines/", api.ExploreLinesApi.as_view(), name="finops-explore-lines-api"),
]

urlpatterns = [
    path("", views.home, name="finops-home"),
    path("accounts/", include(auth_urls)),
    path("o/<uuid:org_code>/", include(org_pages)),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("healthz", api.healthz, name="finops-healthz"),
    path("agent/<str:name>", ingest_views.agent_download, name="ingest-agent-download"),
    *pricing_top_urls,
    path("admin/", admin.site.urls),
]

# Under /api/, a path no route matches (a malformed `{code}` among them) is a JSON 404 and a request Django refuses
# itself (too many form fields) a JSON 400, as the schema declares.
handler400 = api.bad_request
handler404 = api.not_found
