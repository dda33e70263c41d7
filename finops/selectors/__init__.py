"""Reads of the core domain, a module per question: inputs.py (what one org-day's costing needs), ledger.py (the
rollup rows of a period and their identity), grouping.py (grouped sums of the rollups), founder_facts.py (the
Founder Table's facts), founder_week.py (a period's Founder Table), revenue.py, economics.py (customers and plans),
anomalies.py (anomalies and the forecast), costs.py (the Costs page), settings_lists.py, and health.py, hosts.py,
budgets.py, build_rent.py, guided_check.py, onboarding.py."""
