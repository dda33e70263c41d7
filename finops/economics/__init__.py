"""Unit economics as pure functions of frozen Decimal inputs: no ORM, no request, no settings.

allocation.py  one organisation-day's costs as allocated, idle, unmeasured and unattributed items
customer_cost.py  a customer's direct and fully loaded cost
rollup.py      items summed into rollup rows and job rows
metrics.py     the twelve weekly metrics and week-over-week change
rules.py       the Founder Table rows: measured figures, stop signs and offenders
"""
