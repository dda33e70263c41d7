"""A customer's direct and fully loaded cost (ECONOMICS.md, Customer cost): pure Decimal arithmetic.

- **Direct cost**: what the customer's own calls, the GPU time the agent attributed to them and the bill lines tagged
  to them (directly or by a bucket rule) cost.
- **Fully loaded cost**: everything allocated to the customer (direct cost plus what an allocation key already placed
  on them: shared cloud cost, the API bill's gap) plus their share of the pool no workload carries (idle, unmeasured
  and unattributed cost), by their share of direct cost. Over all customers plus the internal work (allocated cost
  with no customer), fully loaded cost sums to the billed total exactly; with no customer to carry it, the pool stays
  `unplaced`.
"""

from dataclasses import dataclass

from finops.economics.allocation import ZERO, split_exact


@dataclass(frozen=True)
class CustomerCosts:
    direct: dict  # customer -> direct cost
    fully_loaded: dict  # customer -> fully loaded cost
    internal: object  # allocated cost with no customer (Decimal)
    unplaced: object  # the pool no customer could carry (Decimal): non-zero only without customers' direct cost


def customer_costs(slices) -> CustomerCosts:
    """From (kind, customer, by_key, cost) rows of one currency: each customer's direct and fully loaded cost."""
    direct, placed, internal, pool = {}, {}, ZERO, ZERO
    for kind, customer, by_key, cost in slices:
        if kind != "allocated":
            pool += cost
        elif not customer:
            internal += cost
        elif by_key:
            placed[customer] = placed.get(customer, ZERO) + cost
        else:
            direct[customer] = direct.get(customer, ZERO) + cost
    customers = sorted(set(direct) | set(placed))
    carriers = [c for c in customers if direct.get(c, ZERO) > 0]
    shares = dict(zip(carriers, split_exact(pool, [direct[c] for c in carriers]), strict=True)) if carriers else {}
    loaded = {c: direct.get(c, ZERO) + placed.get(c, ZERO) + shares.get(c, ZERO) for c in customers}
    return CustomerCosts(
        direct={c: direct.get(c, ZERO) for c in customers},
        fully_loaded=loaded,
        internal=internal,
        unplaced=ZERO if carriers else pool,
    )
