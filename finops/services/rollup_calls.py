"""A day's model calls costed, allocated and rolled up in PostgreSQL, in one statement.

What `allocate_day` does with call groups (`_calls`, `_call_item`, `job_outcomes`) and what `rollup_rows` and
`job_rows` then do with their items, as SQL: one grouped read of the day's events (the very groups `_call_groups`
reads), the Stripe plan, the currency conversion, the job outcomes by a window function, buckets, labels and
`deferrable` as CASE, summed into the `api_calls` rollup rows and the job rows, which it inserts. A day has tens of
thousands of call groups and only hundreds of bill lines: this is where the Python path spent its time. The bill
lines and GPU hours stay in Python (`allocate_day` with the calls' `CallTotals`), and the Python path stays the
oracle: tests/finops/test_rollup_calls.py compares both on generated days, every row to the cent.

Where the Python path must decide instead (a provider's calls priced above its bill are scaled down to it with
`split_exact`; a provider name outside ASCII, which Python lowers differently; a converted amount so large that
Python's 28 digits would round it before the quantum), the statement writes nothing and says so, and the caller
costs the calls in Python. Python's own rules are used where SQL would differ: `str.strip`'s whitespace is passed
to `btrim`, bucket rules are matched by `fnmatch` on the day's distinct values, and ordering is by code point
(`COLLATE "C"`).
"""

import sys
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatch

from django.db import connection

from finops.economics.allocation import (
    PURPOSE_BUCKETS,
    CallTotals,
    DayInputs,
    Dims,
    Item,
    keys_used,
    llm_bills_of,
)
from finops.selectors.inputs import day_bounds

# What Python's str.strip() removes.
WHITESPACE = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
# Bucket rule fields a call has (owner and service are never set on one, so rules on them never match it).
RULE_COLUMNS = {"purpose": "purpose", "feature": "feature", "job_id": "job_id", "model": "model"}


@dataclass(frozen=True)
class CallRollup:
    rows: int  # rollup rows written
    totals: CallTotals
    jobs: tuple  # stand-in items for job_rows: the calls of jobs that GPU time also carries


def calls_rollup_write(*, org, day: date, inputs: DayInputs, plans: dict) -> CallRollup | None:
    """Write the day's `api_calls` rollup rows and its calls' job rows (those of jobs without GPU time); returns what
    the rest of the allocation needs, or None (nothing written) when the calls must be costed in Python."""
    policy = inputs.policy
    start, end = day_bounds(day)
    bills = llm_bills_of(inputs)
    gpu_jobs = sorted({dims.job_id for hh in inputs.host_hours for dims, _ in hh.workloads if dims.job_id})
    rates = [(currency, rate) for currency, rate in policy.rates if currency != policy.currency]
    params = {
        "org": org.pk, "day": day, "start": start, "end": end, "currency": policy.currency, "space": WHITESPACE,
        "plan_customers": list(plans), "plan_names": [plans[c] for c in plans],
        "rate_currencies": [c for c, _ in rates], "rate_values": [r for _, r in rates],
        "billed": list(bills), "bills": [bills[p] for p in bills],
        "approved": sorted(policy.approved_runs), "deferrable": sorted(policy.deferrable_features),
        "gpu_jobs": gpu_jobs, "keys": keys_used(policy),
    }  # fmt: skip
    rules = _rules(org, start, end, policy.rules, params)
    with connection.cursor() as cursor:
        cursor.execute(STATEMENT.format(purpose=_purpose_case(), rules=rules), params)
        result = cursor.fetchall()
    rows, python, logged, customers, jobs = 0, False, [], [], []
    for tag, a, b, c, d, e, f, amount, other, retry, n1, n2 in result:
        if tag == "verdict":
            python = n1 > 0
        elif tag == "rows":
            rows = n1
        elif tag == "provider":
            logged.append((a, amount))
        elif tag == "customer":
            customers.append((a, b, n1, n2))
        elif tag == "job":  # (job_id, currency, customer, plan, feature, purpose, outcome)
            dims = Dims(customer=c, plan=d, feature=e, purpose=f, job_id=a)
            jobs.append(Item("allocated", "api_calls", "retries", "", dims, retry, b, calls=n1, unpriced_calls=n2,
                             job_outcome=other))  # fmt: skip
            jobs.append(Item("allocated", "api_calls", "", "", dims, amount, b, job_outcome=other))
    if python:
        return None
    return CallRollup(rows=rows, totals=CallTotals(tuple(logged), tuple(customers)), jobs=tuple(jobs))


def _purpose_case() -> str:
    """PURPOSE_BUCKETS of `purpose.strip().lower()`: only A-Z lowered (COLLATE "C"), the one other character whose
    Python lower() is in a key's letters (the Kelvin sign) mapped first, so it matches exactly what Python matches."""
    assert all(key.isascii() for key in PURPOSE_BUCKETS)
    cases = " ".join(f"WHEN '{key}' THEN '{bucket}'" for key, bucket in PURPOSE_BUCKETS.items())
    return f"CASE lower(translate(btrim(purpose, %(space)s), '\u212a', 'k') COLLATE \"C\") {cases} END"


def _rules(org, start, end, rules: tuple, params: dict) -> str:
    """The org's bucket rules as CASE branches, each matching the day's values of its field that `fnmatch` matches
    (read first, distinct, only when the org has rules that a call can match)."""
    rules = [r for r in rules if r.field in RULE_COLUMNS]
    if not rules:
        return "NULL"
    fields = sorted({r.field for r in rules})
    columns = ", ".join(f"array_agg(DISTINCT {RULE_COLUMNS[f]})" for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM ingest_usageevent WHERE org_id = %s AND occurred_at >= %s AND occurred_at < %s",  # noqa: S608 - fixed names
            (org.pk, start, end),
        )
        values = dict(zip(fields, cursor.fetchone(), strict=True))
    branches = []
    for n, rule in enumerate(rules):
        field = rule.field
        # bucket_for's own test of one rule: a value, lowered, matching the lowered pattern
        params[f"rule_{n}"] = [v for v in values[field] or () if v and fnmatch(v.lower(), rule.pattern.lower())]
        params[f"bucket_{n}"] = rule.bucket
        branches.append(f"WHEN {RULE_COLUMNS[field]} = ANY(%(rule_{n})s) THEN %(bucket_{n})s")
    return f"CASE {' '.join(branches)} END"


STATEMENT = """
WITH raw AS (
    SELECT provider, model, route, customer, metadata ->> 'plan' AS plan, feature, environment, purpose, job_id,
           attempt, status, currency, sum(request_count)::bigint AS calls,
           sum(request_count) FILTER (WHERE cost_source = 'unpriced')::bigint AS unpriced, sum(cost_amount) AS cost,
           sum(input_tokens)::bigint AS input_tokens, sum(output_tokens)::bigint AS output_tokens
    FROM ingest_usageevent
    WHERE org_id = %(org)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
    GROUP BY provider, model, route, customer, metadata ->> 'plan', feature, environment, purpose, job_id, attempt,
             status, currency
), grp AS (  -- CallGroup as _call_groups makes it, with its rate when convert_call converts it
    SELECT lower(btrim(r.provider, %(space)s) COLLATE "C") AS provider,
           octet_length(r.provider) <> char_length(r.provider) AS odd, r.model, r.route, r.customer,
           coalesce(nullif(sp.plan, ''), nullif(r.plan, ''), '') AS plan, r.feature, r.environment, r.purpose,
           r.job_id, r.attempt, r.status, coalesce(nullif(r.currency, ''), %(currency)s) AS reported,
           coalesce(r.calls, 0) AS calls, coalesce(r.unpriced, 0) AS unpriced, coalesce(r.cost, 0) AS cost,
           coalesce(r.input_tokens, 0) AS input_tokens, coalesce(r.output_tokens, 0) AS output_tokens,
           rate.value AS rate
    FROM raw r
    LEFT JOIN unnest(%(plan_customers)s::text[], %(plan_names)s::text[]) AS sp(customer, plan)
        ON sp.customer = r.customer
    LEFT JOIN unnest(%(rate_currencies)s::text[], %(rate_values)s::numeric[]) AS rate(currency, value)
        ON rate.currency = coalesce(nullif(r.currency, ''), %(currency)s)
), converted AS (  -- convert_call: quantize_storage(cost * rate), half-even
    SELECT c.*, CASE WHEN rate IS NULL THEN reported ELSE %(currency)s END AS currency,
           CASE WHEN rate IS NULL THEN cost
                WHEN abs(cost * rate - trunc(cost * rate, 10)) = 0.00000000005
                     AND mod(trunc(cost * rate * 10000000000), 2) = 0 THEN trunc(cost * rate, 10)
                ELSE round(cost * rate, 10) END AS converted,
           rate IS NOT NULL AND abs(cost * rate) >= 100000000 AS huge
    FROM grp c
), last AS (  -- job_outcomes: each job's last attempt, and whether a call of it at that attempt is ok
    SELECT job_id, max(attempt) AS attempt FROM converted WHERE job_id <> '' GROUP BY job_id
), outcome AS (
    SELECT c.job_id, l.attempt AS last_attempt, bool_or(c.status = 'ok') AS job_ok
    FROM converted c JOIN last l ON l.job_id = c.job_id AND l.attempt = c.attempt
    GROUP BY c.job_id, l.attempt
), providers AS (  -- allocate_day lists the items provider by provider, in the order of each one's first call
    SELECT provider, lpad(row_number() OVER (ORDER BY first)::text, 10, '0') AS prank
    FROM (SELECT provider, min(ARRAY[customer, plan, feature, environment, provider] COLLATE "C") AS first
          FROM converted GROUP BY provider) AS p
), item AS (  -- _call_item
    SELECT c.*, p.prank, CASE WHEN c.job_id = '' THEN c.status = 'ok' ELSE o.job_ok END AS ok,
           c.job_id <> '' AND (NOT o.job_ok OR c.attempt < o.last_attempt OR c.status <> 'ok') AS retry,
           CASE WHEN c.currency = %(currency)s THEN c.converted WHEN c.provider = ANY(%(billed)s::text[]) THEN 0
                ELSE c.converted END AS amount
    FROM converted c JOIN providers p ON p.provider = c.provider LEFT JOIN outcome o ON o.job_id = c.job_id
), bucketed AS (
    SELECT i.*, CASE WHEN retry THEN 'retries'
                     ELSE coalesce({purpose}, {rules},
                                   CASE WHEN customer <> '' OR feature <> '' THEN 'inference' ELSE 'waste' END)
                     END AS bucket,
           purpose = 'batch' OR feature = ANY(%(deferrable)s::text[]) AS defer
    FROM item i
), labelled AS (
    SELECT b.*, CASE WHEN bucket IN ('inference', 'retries') AND customer <> '' THEN 'customer_value'
                     WHEN bucket = 'evaluation' THEN 'product_proof'
                     WHEN bucket IN ('training', 'research') AND job_id <> ''
                          AND job_id = ANY(%(approved)s::text[]) THEN 'approved_learning'
                     ELSE 'unlabelled' END AS label
    FROM bucketed b
), logged AS (
    SELECT provider, coalesce(sum(amount) FILTER (WHERE currency = %(currency)s), 0) AS amount,
           bool_or(odd OR huge) AS odd
    FROM labelled GROUP BY provider
), verdict AS (  -- the Python path decides: calls priced above their provider's bill, odd names, huge amounts
    SELECT count(*) FILTER (WHERE l.odd OR l.amount > b.amount) AS python
    FROM logged l LEFT JOIN unnest(%(billed)s::text[], %(bills)s::numeric[]) AS b(provider, amount)
        ON b.provider = l.provider
), rolled AS (
    INSERT INTO finops_rollup (org_id, day, kind, source, bucket, label, currency, job_outcome, "deferrable",
        customer, plan, feature, environment, owner, provider, model, route, host, cost_amount, calls,
        unpriced_calls, input_tokens, output_tokens, gpu_seconds, cost_line_ids)
    SELECT %(org)s, %(day)s, 'allocated', 'api_calls', bucket, label, currency,
           CASE WHEN ok THEN 'completed' ELSE 'failed' END, defer, customer, plan, feature, environment, '',
           provider, model, route, '', sum(amount), sum(calls), sum(unpriced), sum(input_tokens),
           sum(output_tokens), 0, '[]'
    FROM labelled WHERE (SELECT python FROM verdict) = 0
    GROUP BY bucket, label, currency, ok, defer, customer, plan, feature, environment, provider, model, route
    RETURNING 1
), job AS (  -- job_rows: per job id and currency, each field the first set in the order of the items
    SELECT job_id, currency,
           coalesce((min(ARRAY[prank, customer] COLLATE "C") FILTER (WHERE customer <> ''))[2], '') AS customer,
           coalesce((min(ARRAY[prank, customer, plan] COLLATE "C") FILTER (WHERE plan <> ''))[3], '') AS plan,
           coalesce((min(ARRAY[prank, customer, plan, feature] COLLATE "C") FILTER (WHERE feature <> ''))[4], '')
           AS feature,
           coalesce((min(ARRAY[prank, customer, plan, feature, environment, provider, model, route, job_id, purpose]
                         COLLATE "C") FILTER (WHERE purpose <> ''))[10], '') AS purpose,
           bool_and(ok) AS ok, sum(calls)::bigint AS attempts, sum(unpriced)::bigint AS unpriced,
           coalesce(sum(amount) FILTER (WHERE bucket = 'retries'), 0) AS retry,
           coalesce(sum(amount) FILTER (WHERE bucket <> 'retries'), 0) AS other, sum(amount) AS amount,
           job_id = ANY(%(gpu_jobs)s::text[]) AS gpu
    FROM labelled WHERE job_id <> '' GROUP BY job_id, currency
), jobs AS (
    INSERT INTO finops_jobrollup (org_id, day, job_id, customer, plan, feature, purpose, jobs_completed,
        jobs_failed, attempts, cost_completed_amount, cost_failed_amount, retry_cost_amount, currency, gpu_seconds,
        unpriced_calls)
    SELECT %(org)s, %(day)s, job_id, customer, plan, feature, purpose, ok::int, (NOT ok)::int, attempts,
           CASE WHEN ok THEN amount ELSE 0 END, CASE WHEN ok THEN 0 ELSE amount END, retry, currency, 0, unpriced
    FROM job WHERE NOT gpu AND (SELECT python FROM verdict) = 0
    UNION ALL
    SELECT %(org)s, %(day)s, '', customer, plan, feature, purpose, coalesce(sum(calls) FILTER (WHERE ok), 0),
           coalesce(sum(calls) FILTER (WHERE NOT ok), 0), sum(calls),
           coalesce(sum(amount) FILTER (WHERE ok), 0), coalesce(sum(amount) FILTER (WHERE NOT ok), 0),
           coalesce(sum(amount) FILTER (WHERE bucket = 'retries'), 0), currency, 0, sum(unpriced)
    FROM labelled WHERE job_id = '' AND (SELECT python FROM verdict) = 0
    GROUP BY customer, plan, feature, purpose, currency
)
SELECT 'verdict', NULL, NULL, NULL, NULL, NULL, NULL, NULL::numeric, NULL, NULL::numeric, python, NULL::bigint
FROM verdict
UNION ALL SELECT 'rows', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, count(*), NULL FROM rolled
UNION ALL SELECT 'provider', provider, NULL, NULL, NULL, NULL, NULL, amount, NULL, NULL, NULL, NULL FROM logged
UNION ALL
SELECT 'customer', customer, (max(ARRAY[prank, plan] COLLATE "C"))[2], NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       sum(input_tokens + output_tokens)::bigint, sum(calls)::bigint
FROM labelled WHERE customer <> '' AND %(keys)s GROUP BY customer
UNION ALL
SELECT 'job', job_id, currency, customer, plan, feature, purpose, other,
       CASE WHEN ok THEN 'completed' ELSE 'failed' END, retry, attempts, unpriced
FROM job WHERE gpu
"""
