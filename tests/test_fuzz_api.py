"""Schemathesis over /api/schema/ against a live server (issue 16): every operation of the published schema answers
each request sent without a 5xx, with a status code and a content type the schema declares, and a body (and headers)
matching the declared schema. Per operation: the schema's examples, schemathesis' coverage cases (each parameter's
boundaries, missing and wrong-typed values, other HTTP methods) and `MAX_EXAMPLES` generated requests, valid and
invalid; then a stateful run following links (a budget created, read and deleted; a budget check's hold released;
an upload read back; an agent token created and revoked). The examples include a valid body for each JSON write
whose rules generated data seldom meets (an agent batch, a budget).

Deterministic: a fixed seed, derandomised generation and no example database, so each run sends the same requests
(only the codes of the objects created differ). Bounded: about a minute in all.

A second organisation owns a budget, an upload, a key and an agent token; their codes are given to the schema as
examples of the path parameters, so every `{code}` operation also asks for another tenant's object: that must be a
404, and no response may carry anything of that organisation.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import hypothesis
import pytest
import requests
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from schemathesis.checks import CheckContext

from accounts.services import agent_token_create, api_key_create, org_create, user_get_or_create
from finops.models import Budget
from finops.services.budgets import budget_save
from ingest.services.uploads import upload_create
from tests.ingest.test_agent_api import batch as agent_batch

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db(transaction=True)]

SEED = 16  # issue 16
MAX_EXAMPLES = 12
STATEFUL_SCENARIOS = 30
STATEFUL_STEPS = 6
AGENT_PATH = "/api/v1/agent/samples/"
# Every check that compares a response with the schema, and no 5xx. Not enabled: the checks that judge whether the
# API accepts or refuses a request (positive_data_acceptance, negative_data_rejection): the schema does not carry
# every validation rule (a period's bounds, a budget's scope and target), so they measure the schema's detail.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]
RATES = dict.fromkeys(("read", "write", "budget-check", "agent", "anon"), "1000000/min")  # counted, never reached
DAY = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=2)


@pytest.fixture
def tenants(live_server, settings):
    """Org A (write key, agent token, a little data) and org B, whose objects the fuzzer must never reach."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": RATES}
    alice, _ = user_get_or_create(email="alice@example.org", password="correct-horse-battery-staple")
    charlie, _ = user_get_or_create(email="charlie@example.org", password="correct-horse-battery-staple")
    org = org_create(name="Alice AI", owner=alice)
    _, write_key = api_key_create(org=org, name="fuzz", scope="write", created_by=alice)
    _, agent_token = agent_token_create(org=org, host_name="gpu-box-1", created_by=alice)
    events = [{"event_id": f"e{i}", "timestamp": (DAY + timedelta(minutes=i)).isoformat(), "provider": "openai",
               "model": "gpt-4o", "customer": f"cust-{i % 3}", "feature": "chat", "input_tokens": 100,
               "output_tokens": 50, "cost": "0.0100", "currency": "USD"} for i in range(12)]  # fmt: skip
    posted = requests.post(f"{live_server.url}/api/v1/usage-events/", json=events,
                           headers={"Authorization": f"Bearer {write_key}"}, timeout=30)  # fmt: skip
    assert posted.json()["accepted"] == len(events), posted.text

    other = org_create(name="Charlie Labs", owner=charlie)
    other_key, _ = api_key_create(org=other, name="charlie's", scope="write", created_by=charlie)
    other_token, _ = agent_token_create(org=other, host_name="charlie-box", created_by=charlie)
    other_budget, _ = budget_save(org=other, scope="org", target="", period="month", amount=Decimal(100),
                                  currency="USD", alert_at=Decimal("0.8"))  # fmt: skip
    other_upload = upload_create(org=other, file=SimpleUploadedFile("charlie.csv", b"provider,model\n"), kind="bill",
                                 created_by=charlie, enqueue=False)  # fmt: skip
    return {
        "org": org,
        "write_key": write_key,
        "agent_token": agent_token,
        "other_codes": {
            "/api/v1/api-keys/{code}/": str(other_key.code),
            "/api/v1/agent-tokens/{code}/": str(other_token.code),
            "/api/v1/budgets/{code}/": str(other_budget.code),
            "/api/v1/uploads/{code}/": str(other_upload.code),
        },
        "other_markers": [str(other.code), other.name, other_key.prefix, other_token.prefix, charlie.email],
    }


# Links the stateful run follows: (source operation, status, target operation, parameters from the response).
LINKS = [
    ("POST /api/v1/budgets/", "201", "GET /api/v1/budgets/{code}/", "$response.body#/id"),
    ("POST /api/v1/budgets/", "201", "DELETE /api/v1/budgets/{code}/", "$response.body#/id"),
    ("POST /api/v1/budgets/", "200", "GET /api/v1/budgets/{code}/", "$response.body#/id"),
    ("POST /api/v1/budget-check/", "200", "DELETE /api/v1/budget-check/{code}/", "$response.body#/reservation"),
    ("POST /api/v1/uploads/", "201", "GET /api/v1/uploads/{code}/", "$response.body#/id"),
    ("POST /api/v1/agent-tokens/", "201", "DELETE /api/v1/agent-tokens/{code}/", "$response.body#/code"),
]


# Request bodies the API accepts, as examples: the agent's batch is refused unless every moment lies in the accepted
# window and every GPU is listed, which generated data seldom manages.
def body_examples() -> dict:
    return {
        "POST /api/v1/agent/samples/": agent_batch(start=DAY, host="gpu-box-1"),
        "POST /api/v1/budgets/": {
            "scope": "customer",
            "target": "cust-1",
            "period": "month",
            "amount": "50.00",
            "alert_at": "0.5",
        },
        "POST /api/v1/budget-check/": {"customer": "cust-1", "feature": "chat", "estimated_cost": "1.25"},
        "POST /api/v1/hosts/": {"resource_id": "i-0abc", "is_gpu": True},
    }


def with_links_and_examples(raw: dict, other_codes: dict) -> dict:
    """The published schema plus the stateful links, request bodies the API accepts and, as the `code` examples,
    the other tenant's objects."""
    for label, body in body_examples().items():
        method, path = label.split()
        raw["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]["example"] = body
    for source, status, target, value in LINKS:
        method, path = source.split()
        target_method, target_path = target.split()
        target_id = raw["paths"][target_path][target_method.lower()]["operationId"]
        response = raw["paths"][path][method.lower()]["responses"][status]
        response.setdefault("links", {})[target_id] = {"operationId": target_id, "parameters": {"code": value}}
    for path, code in other_codes.items():
        for operation in raw["paths"][path].values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "code":
                    parameter["example"] = code
    return raw


@pytest.fixture
def api_schema(live_server, tenants):
    raw = requests.get(f"{live_server.url}/api/schema/", params={"format": "json"}, timeout=30).json()
    config = schemathesis.Config.from_dict({
        "seed": SEED,
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        "base-url": live_server.url,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none",
                       "no-shrink": True},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": True, "max-steps": STATEFUL_STEPS, "inference": {"algorithms": []}},
        },
    })  # fmt: skip
    return schemathesis.openapi.from_dict(with_links_and_examples(raw, tenants["other_codes"]), config=config)


def auth_headers(case, tenants) -> dict:
    secret = tenants["agent_token"] if case.path == AGENT_PATH else tenants["write_key"]
    return {"Authorization": f"Bearer {secret}"}


def tenancy_check(tenants):
    """A check: another tenant's object is a 404, and no response carries anything of that tenant."""

    def other_tenant_is_invisible(ctx: CheckContext, response, case) -> bool | None:
        code = (case.path_parameters or {}).get("code")
        if code in tenants["other_codes"].values() and case.method.upper() == case.operation.method.upper():
            assert response.status_code == 404, f"the other tenant's {code} answered {response.status_code}"
        leaked = [marker for marker in tenants["other_markers"] if marker in (response.text or "")]
        assert not leaked, f"the other tenant's {leaked} in the response"
        return None

    return other_tenant_is_invisible


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_operation_answers_as_its_schema_says(case, tenants):
    case.call_and_validate(headers=auth_headers(case, tenants), additional_checks=[tenancy_check(tenants)])


def test_linked_operations_answer_as_the_schema_says(api_schema, tenants):
    check = tenancy_check(tenants)

    class Workflow(api_schema.as_state_machine()):
        def teardown(self):
            # Each scenario starts from the same budgets (a budget POSTed twice is a 201, then a 200), so a scenario
            # replayed gives the same responses and links, as Hypothesis requires.
            Budget.objects.for_org(tenants["org"]).delete()

        def get_call_kwargs(self, case):
            return {"headers": auth_headers(case, tenants)}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            super().validate_response(response, case, additional_checks=[check], **kwargs)

    stateful = api_schema.config.get_hypothesis_settings(phase="stateful")
    Workflow.run(settings=hypothesis.settings(stateful, max_examples=STATEFUL_SCENARIOS))
