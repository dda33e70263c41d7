"""Unit economics as pure functions of frozen Decimal inputs: no ORM, no request, no settings.

allocation.py  one organisation-day's costs as allocated, idle, unmeasured and unattributed items
customer_cost.py  a customer's direct and fully loaded cost
rollup.py      items summed into rollup rows and job rows
metrics.py     the twelve weekly metrics and week-over-week change
rows/          the Founder Table rows, one module each: its declaration (title, move, thresholds, figures
               with units) and its rule; `ROWS` the registry in the table's order
rules.py       the engine: every registered row judged over a period's facts with the org's thresholds
units.py       the units figures, thresholds and metrics are declared in
"""
