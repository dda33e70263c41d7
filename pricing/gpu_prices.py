"""Public list prices of four GPU types: the starting rate card of every organisation (docs/gpu-prices.md).

They are list prices as published (or estimated from a published discount) on the dates given, bundled with
the code and never fetched at run time: GPU prices move every quarter, so the page says to overwrite them with
the organisation's own quotes.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class GpuListPrice:
    gpu_type: str
    match_name: str  # the agent's GPU names that contain it (as a whole word) are this type
    on_demand_hourly_amount: Decimal | None
    reserved_1y_hourly_amount: Decimal | None
    reserved_3y_hourly_amount: Decimal | None
    spot_hourly_amount: Decimal | None
    purchase_amount: Decimal  # per GPU, its share of the server included
    power_watts: int  # average draw per GPU with its share of the server
    currency: str
    source: str
    as_of: date  # the oldest of the row's figures


GPU_LIST_PRICES = (
    GpuListPrice(
        gpu_type="H100 SXM",
        match_name="H100",
        on_demand_hourly_amount=Decimal("2.99"),
        reserved_1y_hourly_amount=Decimal("2.35"),
        reserved_3y_hourly_amount=Decimal("1.90"),
        spot_hourly_amount=Decimal("1.49"),
        purchase_amount=Decimal("35000"),
        power_watts=1275,
        currency="USD",
        source="On-demand: Lambda, 8x H100 SXM, per GPU (2025-06). 1-year: GPU-cloud 1-year contracts, SemiAnalysis "
        "H100 rental index (2026-03). 3-year: estimate, 1-year less 20%. Spot: Vast.ai interruptible, typical "
        "(2026-01). Purchase: estimate, an 8-GPU HGX H100 server at about $280,000 (2025). Power: DGX H100 "
        "10.2 kW / 8.",
        as_of=date(2025, 6, 1),
    ),
    GpuListPrice(
        gpu_type="A100 80GB",
        match_name="A100",
        on_demand_hourly_amount=Decimal("1.79"),
        reserved_1y_hourly_amount=Decimal("1.45"),
        reserved_3y_hourly_amount=Decimal("1.20"),
        spot_hourly_amount=Decimal("0.86"),
        purchase_amount=Decimal("20000"),
        power_watts=812,
        currency="USD",
        source="On-demand: Lambda, 8x A100 SXM 80GB, per GPU (2025-06). 1-year and 3-year: estimates, on-demand "
        "less 20% and 33%. Spot: GPU-cloud marketplaces, typical (2026-01). Purchase: estimate, an 8-GPU HGX "
        "A100 80GB server at about $160,000 (2025). Power: DGX A100 6.5 kW / 8.",
        as_of=date(2025, 6, 1),
    ),
    GpuListPrice(
        gpu_type="L40S",
        match_name="L40S",
        on_demand_hourly_amount=Decimal("1.861"),
        reserved_1y_hourly_amount=Decimal("1.21"),
        reserved_3y_hourly_amount=Decimal("0.84"),
        spot_hourly_amount=Decimal("0.74"),
        purchase_amount=Decimal("11000"),
        power_watts=500,
        currency="USD",
        source="On-demand: AWS g6e.xlarge (1x L40S), us-east-1, Linux (2024-08). 1-year and 3-year: estimates, "
        "AWS Savings Plans at about 35% and 55% off. Spot: estimate, about 60% off. Purchase: estimate, an L40S "
        "card at about $8,000 plus its server share. Power: 350 W card plus its server share.",
        as_of=date(2024, 8, 15),
    ),
    GpuListPrice(
        gpu_type="L4",
        match_name="L4",
        on_demand_hourly_amount=Decimal("0.7068"),
        reserved_1y_hourly_amount=Decimal("0.4453"),
        reserved_3y_hourly_amount=Decimal("0.3181"),
        spot_hourly_amount=Decimal("0.2827"),
        purchase_amount=Decimal("4000"),
        power_watts=150,
        currency="USD",
        source="On-demand: Google Cloud g2-standard-4 (1x L4), us-central1 (2024-10). 1-year and 3-year: its "
        "committed-use discounts, 37% and 55% off. Spot: estimate, about 60% off. Purchase: estimate, an L4 "
        "card at about $2,500 plus its server share. Power: 72 W card plus its server share.",
        as_of=date(2024, 10, 1),
    ),
)
