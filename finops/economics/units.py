"""The units a Founder Table figure, a threshold or a weekly metric is declared in: how it is read and shown."""

from enum import StrEnum


class Unit(StrEnum):
    MONEY = "money"  # an amount in the organisation's currency
    SHARE = "share"  # a fraction of a whole (0.25), shown as a percentage
    HOURS = "hours"
    DAYS = "days"
    COUNT = "count"  # how many: jobs, hosts, calls; a per-item average of them
    NUMBER = "number"  # a plain decimal shown as it is (two places)
