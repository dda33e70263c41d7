"""Build versus rent for one GPU type: pure Decimal arithmetic, no ORM, no request, no settings.

Inputs (`Scenario`): `n` GPUs of one type over a horizon of `N` months of `H` hours each (730 = 8,760 / 12),
at a utilisation `u` (0..1): the share of hours the work actually needs a GPU. All money is in one currency.

Renting, rates per GPU-hour:
    used GPU-hours a month      U = n x H x u
    on-demand  a month          r_od x U                       (pays only for the hours used)
    spot       a month          r_spot x U x (1 + o / 100)     (o: interruption overhead %, the work redone
                                                                 or checkpointed after preemptions)
    reserved   a month          r_res x n x H                  (1-year or 3-year term: every hour is paid,
                                                                 used or not)
    cost per used GPU-hour      the month's cost / U           (None when u = 0: nothing is used)
    cumulative after m months   m x the month's cost           (no upfront payment; a reservation bills monthly)
A reservation commits to whole terms (12 or 36 months): `owed_after_horizon_amount` is what the term still
owes after month N (the months of the last term the horizon does not reach, at the monthly cost).

Buying, per GPU unless said otherwise:
    energy a month (kWh)        n x W / 1000 x H x PUE          (W: average draw of a GPU with its share of
                                                                 the server, running all month)
    running a month             energy x electricity price + n x hosting + staff share (for the whole purchase)
    monthly cost                n x P / L + running             (P: purchase price incl. server share,
                                                                 L: lifetime in months; straight-line)
    cost per used GPU-hour      monthly cost / U
    cumulative after m months   n x P x k(m) + m x running,  k(m) = max(1, ceil(m / L))
                                (the hardware is paid at month 0 and bought again when its lifetime ends;
                                 no resale value is counted)

Break-even month of buying against a rent option: the first month m in 1..N at which buying's cumulative cost is
no more than the option's; None when that never happens within the horizon.

Amounts are exact Decimals (divisions at Decimal's 28 digits); rounding is for display only (finops.money).
"""

from dataclasses import dataclass
from decimal import Decimal

HOURS_PER_MONTH = Decimal(730)
RESERVED_TERMS = {"reserved_1y": 12, "reserved_3y": 36}
OPTION_LABELS = {
    "on_demand": "Rent on-demand",
    "reserved_1y": "Rent reserved, 1 year",
    "reserved_3y": "Rent reserved, 3 years",
    "spot": "Rent spot",
    "buy": "Buy",
}
SHORT_LABELS = {"on_demand": "on-demand", "reserved_1y": "1-year reserved", "reserved_3y": "3-year reserved",
                "spot": "spot", "buy": "buying"}  # fmt: skip


@dataclass(frozen=True)
class RentRates:
    """Rent prices per GPU-hour; None where the option is not offered."""

    on_demand: Decimal | None
    reserved_1y: Decimal | None
    reserved_3y: Decimal | None
    spot: Decimal | None
    spot_overhead_pct: Decimal = Decimal(0)


@dataclass(frozen=True)
class BuyCosts:
    purchase_amount: Decimal  # per GPU, its share of the server included
    lifetime_months: int
    power_watts: Decimal  # average draw per GPU with its share of the server
    electricity_price_amount: Decimal  # per kWh
    pue: Decimal
    hosting_amount: Decimal  # per GPU per month: rack space, network, remote hands
    staff_amount: Decimal  # per month for the whole purchase: the share of someone's time it takes


@dataclass(frozen=True)
class Scenario:
    gpu_count: int
    months: int
    utilisation: Decimal  # 0..1
    rent: RentRates
    buy: BuyCosts
    hours_per_month: Decimal = HOURS_PER_MONTH


@dataclass(frozen=True)
class OptionCost:
    key: str  # on_demand, reserved_1y, reserved_3y, spot, buy
    label: str
    monthly_amount: Decimal
    cost_per_used_gpu_hour_amount: Decimal | None
    cumulative: tuple[Decimal, ...]  # after month 0, 1, ..., N
    upfront_amount: Decimal = Decimal(0)  # buy: the hardware, paid at month 0
    running_amount: Decimal = Decimal(0)  # buy: energy, hosting and staff a month
    commitment_months: int | None = None  # reserved: the term
    owed_after_horizon_amount: Decimal = Decimal(0)  # reserved: the rest of the last term
    break_even_month: int | None = None  # rent options: when buying catches up; None: not within the horizon

    @property
    def total_amount(self) -> Decimal:
        return self.cumulative[-1]

    @property
    def short_label(self) -> str:
        return SHORT_LABELS[self.key]


@dataclass(frozen=True)
class BuildRentResult:
    used_gpu_hours_per_month: Decimal
    energy_kwh_per_month: Decimal
    buy: OptionCost
    rent: tuple[OptionCost, ...]  # the offered options, in the order of OPTION_LABELS

    @property
    def options(self) -> tuple[OptionCost, ...]:
        return (*self.rent, self.buy)

    @property
    def breaking_even(self) -> tuple[OptionCost, ...]:
        """The rent options buying catches up with within the horizon."""
        return tuple(option for option in self.rent if option.break_even_month is not None)

    @property
    def never_breaking_even(self) -> tuple[OptionCost, ...]:
        return tuple(option for option in self.rent if option.break_even_month is None)

    @property
    def cheapest(self) -> OptionCost:
        """The option with the lowest total over the horizon (the first listed on a tie)."""
        return min(self.options, key=lambda option: option.total_amount)


def build_rent_compare(scenario: Scenario) -> BuildRentResult:
    """Monthly, per-used-hour and cumulative cost of each rent option and of buying, with break-even months."""
    _check(scenario)
    n, months, hours = Decimal(scenario.gpu_count), scenario.months, scenario.hours_per_month
    used_hours = n * hours * scenario.utilisation
    buy = scenario.buy

    energy_kwh = n * buy.power_watts / 1000 * hours * buy.pue
    running = energy_kwh * buy.electricity_price_amount + n * buy.hosting_amount + buy.staff_amount
    hardware = n * buy.purchase_amount
    buy_cumulative = tuple(hardware * _purchases(m, buy.lifetime_months) + m * running for m in range(months + 1))
    buy_monthly = hardware / buy.lifetime_months + running
    buy_option = OptionCost(
        key="buy",
        label=OPTION_LABELS["buy"],
        monthly_amount=buy_monthly,
        cost_per_used_gpu_hour_amount=_per_used_hour(buy_monthly, used_hours),
        cumulative=buy_cumulative,
        upfront_amount=hardware,
        running_amount=running,
    )

    rates = scenario.rent
    rent = []
    for key in ("on_demand", "reserved_1y", "reserved_3y", "spot"):
        rate = getattr(rates, key)
        if rate is None:
            continue
        term = RESERVED_TERMS.get(key)
        if term:
            monthly = rate * n * hours
        elif key == "spot":
            monthly = rate * used_hours * (1 + rates.spot_overhead_pct / 100)
        else:
            monthly = rate * used_hours
        cumulative = tuple(m * monthly for m in range(months + 1))
        rent.append(
            OptionCost(
                key=key,
                label=OPTION_LABELS[key],
                monthly_amount=monthly,
                cost_per_used_gpu_hour_amount=_per_used_hour(monthly, used_hours),
                cumulative=cumulative,
                commitment_months=term,
                owed_after_horizon_amount=((-months) % term) * monthly if term else Decimal(0),
                break_even_month=_break_even(buy_cumulative, cumulative),
            )
        )
    return BuildRentResult(
        used_gpu_hours_per_month=used_hours, energy_kwh_per_month=energy_kwh, buy=buy_option, rent=tuple(rent)
    )


def _purchases(month: int, lifetime: int) -> int:
    """How many times the hardware has been bought by the end of `month` (once at month 0)."""
    return max(1, -(-month // lifetime))


def _per_used_hour(monthly: Decimal, used_hours: Decimal) -> Decimal | None:
    return monthly / used_hours if used_hours else None


def _break_even(buy: tuple[Decimal, ...], rent: tuple[Decimal, ...]) -> int | None:
    return next((m for m in range(1, len(buy)) if buy[m] <= rent[m]), None)


def _check(scenario: Scenario) -> None:
    if scenario.gpu_count < 1:
        raise ValueError("at least one GPU")
    if not 1 <= scenario.months <= 600:
        raise ValueError("the horizon is 1 to 600 months")
    if not 0 <= scenario.utilisation <= 1:
        raise ValueError("utilisation is a share between 0 and 1")
    if scenario.buy.lifetime_months < 1:
        raise ValueError("the hardware lives at least one month")
    if scenario.hours_per_month <= 0:
        raise ValueError("a month has hours")
    amounts = [scenario.rent.spot_overhead_pct, scenario.buy.purchase_amount, scenario.buy.power_watts,
               scenario.buy.electricity_price_amount, scenario.buy.pue, scenario.buy.hosting_amount,
               scenario.buy.staff_amount]  # fmt: skip
    rates = [scenario.rent.on_demand, scenario.rent.reserved_1y, scenario.rent.reserved_3y, scenario.rent.spot]
    if any(value < 0 for value in amounts) or any(rate is not None and rate < 0 for rate in rates):
        raise ValueError("prices, power and overheads are not negative")
