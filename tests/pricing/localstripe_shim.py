"""Runs localstripe (a Stripe-shaped API server) with the few things it lacks, filled in server-side.

`python tests/pricing/localstripe_shim.py --port N --from-scratch`. The Stripe client still talks HTTP
to a real server; only these gaps of localstripe 1.15 are patched here, and nothing on the client:
1. `created[gte|gt|lte|lt]` on list endpoints (customers, products, plans, subscriptions, invoices):
   localstripe rejects or ignores it; the incremental sync depends on it.
2. `GET /v1/prices`: localstripe has no Price API (subscriptions there take plans). Stripe lists
   recurring prices and plans as the same objects under the same ids, so this answers with the plans
   in the shape of prices.
3. Restricted keys (`rk_...`): localstripe accepts only `sk_...`; a sync should use a restricted key.
4. Trials: localstripe leaves a subscription with `trial_period_days` or `trial_end` `incomplete`, without
   `trial_start`/`trial_end`; Stripe makes it `trialing` from now until the trial's end.
5. Its state is not pickled to /tmp after every write (parallel test runs would share that file).
"""

import argparse
import base64

from aiohttp import web
from localstripe import resources, server

LISTED = (resources.Customer, resources.Product, resources.Plan, resources.Subscription, resources.Invoice)


def _created_filter(created):
    tests = {
        "gte": lambda a, b: a >= b,
        "gt": lambda a, b: a > b,
        "lte": lambda a, b: a <= b,
        "lt": lambda a, b: a < b,
    }
    if isinstance(created, dict):
        bounds = [(tests[op], int(value)) for op, value in created.items()]
    else:
        bounds = [(tests["gte"], int(created)), (tests["lte"], int(created))]
    return lambda obj: all(test(obj.created, bound) for test, bound in bounds)


def _with_created(cls):
    original = cls._api_list_all

    def list_all(url, created=None, **kwargs):
        listing = original(url, **kwargs)
        if created is not None:
            keep = _created_filter(created)
            listing._list = [obj for obj in listing._list if keep(obj)]
        return listing

    cls._api_list_all = list_all


def _with_trials():
    original = resources.Subscription.__init__

    def init(self, *args, trial_end=None, trial_period_days=None, **kwargs):
        original(self, *args, trial_end=trial_end, trial_period_days=trial_period_days, **kwargs)
        if self.trial_end is not None or self.trial_period_days is not None:
            self.trial_start = self.created
            if self.trial_end is None:
                self.trial_end = self.created + int(self.trial_period_days) * 86400
            self.status = "trialing"

    resources.Subscription.__init__ = init


def _plan_as_price(plan: dict) -> dict:
    return {
        "id": plan["id"],
        "object": "price",
        "active": plan["active"],
        "created": plan["created"],
        "currency": plan["currency"],
        "livemode": False,
        "metadata": plan.get("metadata") or {},
        "nickname": plan.get("nickname"),
        "product": plan["product"],
        "recurring": {
            "interval": plan["interval"],
            "interval_count": plan["interval_count"],
            "usage_type": plan["usage_type"],
        },
        "type": "recurring",
        "unit_amount": plan["amount"],
        "unit_amount_decimal": str(plan["amount"]) if plan["amount"] is not None else None,
    }


def prices_list(request):
    data = server.unflatten_data(request.query)
    data.pop("expand", None)
    exported = resources.Plan._api_list_all("/v1/prices", **data)._export()
    exported["data"] = [_plan_as_price(plan) for plan in exported["data"]]
    exported["url"] = "/v1/prices"
    return server.json_response(exported)


def _api_key(request):
    header = request.headers.get("Authorization", "").split(" ")
    if len(header) != 2:
        return None
    key = base64.b64decode(header[1].encode()).decode().split(":")[0] if header[0] == "Basic" else header[1]
    return key if key.startswith(("sk_", "rk_")) and len(key) > 5 else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    for cls in LISTED:
        _with_created(cls)
    _with_trials()
    resources.Store.dump_to_disk = lambda self: None
    server.get_api_key = _api_key
    server.app.router.add_get("/v1/prices", prices_list)
    web.run_app(server.app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
