"""Unit economics as pure functions of frozen Decimal inputs: no ORM, no request, no settings.

allocation.py  one organisation-day's costs as allocated, idle and unattributed items
rollup.py      items summed into rollup rows and job rows
metrics.py     the twelve weekly metrics and week-over-week change
rules.py       the Founder Table rows: measured figures, stop signs and offenders
"""
