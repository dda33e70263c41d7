"""Build versus rent arithmetic (pricing/build_rent.py) on hand-computed scenarios, without a database."""

from dataclasses import replace
from decimal import Decimal

import pytest

from finops.money import round_to_minor
from pricing.build_rent import BuyCosts, RentRates, Scenario, build_rent_compare

D = Decimal

# 2 GPUs, 36 months of 730 hours, half the hours used.
SCENARIO = Scenario(
    gpu_count=2,
    months=36,
    utilisation=D("0.5"),
    rent=RentRates(
        on_demand=D("3.00"), reserved_1y=D("2.20"), reserved_3y=D("1.80"), spot=D("1.50"), spot_overhead_pct=D(20)
    ),
    buy=BuyCosts(
        purchase_amount=D(30000),
        lifetime_months=36,
        power_watts=D(1000),
        electricity_price_amount=D("0.20"),
        pue=D("1.5"),
        hosting_amount=D(150),
        staff_amount=D(500),
    ),
)


def cents(amount):
    return None if amount is None else round_to_minor(amount, "USD")


def by_key(result):
    return {option.key: option for option in result.options}


def test_it_costs_each_option_to_the_cent():
    result = build_rent_compare(SCENARIO)
    options = by_key(result)
    # used GPU-hours a month: 2 x 730 x 0.5 = 730
    assert result.used_gpu_hours_per_month == 730
    # on-demand: 3.00 x 730; spot: 1.50 x 730 x 1.2; reserved: every hour, 2 x 730 = 1460 h
    expected = {
        "on_demand": (D("2190.00"), D("3.00"), D("78840.00")),
        "spot": (D("1314.00"), D("1.80"), D("47304.00")),
        "reserved_1y": (D("3212.00"), D("4.40"), D("115632.00")),
        "reserved_3y": (D("2628.00"), D("3.60"), D("94608.00")),
        # buy: 60,000 of hardware over 36 months = 1,666.67 a month, plus running: energy 2 x 1 kW x 730 h x 1.5 =
        # 2,190 kWh x 0.20 = 438, hosting 2 x 150 = 300, staff 500 -> 1,238 a month; 2,904.67 / 730 h = 3.98
        "buy": (D("2904.67"), D("3.98"), D("104568.00")),
    }
    for key, (monthly, per_hour, total) in expected.items():
        option = options[key]
        shown = (cents(option.monthly_amount), cents(option.cost_per_used_gpu_hour_amount), cents(option.total_amount))
        assert shown == (monthly, per_hour, total), key
    assert result.energy_kwh_per_month == 2190
    assert options["buy"].upfront_amount == 60000
    assert options["buy"].running_amount == 1238
    assert options["buy"].cumulative[:3] == (60000, 61238, 62476)
    assert options["on_demand"].cumulative[:3] == (0, 2190, 4380)
    assert len(options["buy"].cumulative) == 37
    assert result.cheapest.key == "spot"


def test_it_finds_the_break_even_month():
    options = by_key(build_rent_compare(SCENARIO))
    # against 1-year reserved: 60,000 + 1,238 m <= 3,212 m from m = 60,000 / 1,974 = 30.4, so month 31
    assert options["reserved_1y"].break_even_month == 31
    assert options["buy"].cumulative[30] > options["reserved_1y"].cumulative[30]
    assert options["buy"].cumulative[31] <= options["reserved_1y"].cumulative[31]
    # against 3-year reserved: month 43.2, beyond the 36-month horizon
    assert options["reserved_3y"].break_even_month is None
    # against on-demand: month 63, beyond; against spot: running (1,238) is barely below spot (1,314), never
    assert options["on_demand"].break_even_month is None
    assert options["spot"].break_even_month is None


def test_it_never_breaks_even_when_running_costs_more_than_renting():
    only_on_demand = RentRates(on_demand=D("0.50"), reserved_1y=None, reserved_3y=None, spot=None)
    cheap_rent = replace(SCENARIO, months=120, rent=only_on_demand)
    result = build_rent_compare(cheap_rent)
    assert [option.key for option in result.options] == ["on_demand", "buy"]
    # on-demand 0.50 x 730 = 365 a month, below buying's 1,238 running alone
    assert result.rent[0].break_even_month is None
    assert result.cheapest.key == "on_demand"


def test_it_breaks_even_in_month_one_when_buying_is_nearly_free():
    free = replace(SCENARIO, buy=replace(SCENARIO.buy, purchase_amount=D(0)))
    assert by_key(build_rent_compare(free))["on_demand"].break_even_month == 1


def test_it_buys_the_hardware_again_when_its_lifetime_ends():
    short = replace(SCENARIO, months=25, buy=replace(SCENARIO.buy, lifetime_months=12))
    buy = build_rent_compare(short).buy
    assert buy.cumulative[12] == 60000 + 12 * 1238
    assert buy.cumulative[13] == 120000 + 13 * 1238
    assert buy.cumulative[25] == 180000 + 25 * 1238
    assert cents(buy.monthly_amount) == D("6238.00")  # 60,000 / 12 + 1,238


def test_it_shows_what_a_reservation_still_owes_after_the_horizon():
    options = by_key(build_rent_compare(replace(SCENARIO, months=24)))
    assert options["reserved_1y"].owed_after_horizon_amount == 0
    assert options["reserved_3y"].owed_after_horizon_amount == 12 * D(2628)
    assert (options["reserved_1y"].commitment_months, options["reserved_3y"].commitment_months) == (12, 36)
    assert options["on_demand"].commitment_months is None


def test_it_has_no_cost_per_used_hour_at_zero_utilisation():
    options = by_key(build_rent_compare(replace(SCENARIO, utilisation=D(0))))
    assert options["on_demand"].total_amount == 0
    assert options["spot"].monthly_amount == 0
    assert options["reserved_1y"].cost_per_used_gpu_hour_amount is None
    assert options["buy"].cost_per_used_gpu_hour_amount is None
    assert options["on_demand"].break_even_month is None


def test_it_keeps_decimals_exact():
    options = by_key(build_rent_compare(replace(SCENARIO, utilisation=D("0.333"))))
    assert all(isinstance(value, Decimal) for option in options.values() for value in option.cumulative)
    assert options["on_demand"].monthly_amount == D("3.00") * 2 * 730 * D("0.333")


@pytest.mark.parametrize(
    "change",
    [
        {"gpu_count": 0},
        {"months": 0},
        {"utilisation": D("1.01")},
        {"utilisation": D("-0.1")},
        {"buy": replace(SCENARIO.buy, lifetime_months=0)},
        {"buy": replace(SCENARIO.buy, purchase_amount=D(-1))},
        {"rent": replace(SCENARIO.rent, spot=D("-0.5"))},
    ],
)
def test_it_refuses_impossible_inputs(change):
    with pytest.raises(ValueError):
        build_rent_compare(replace(SCENARIO, **change))
