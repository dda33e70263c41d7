"""The idle_gpu row of the Founder Table, its declaration and its rule: measured idleness, unowned paid GPU time and
zombie processes fire; GPU time no agent measured is listed with the move to install (or check) the agent."""

from decimal import Decimal

from finops.economics.facts import ZERO, HostFacts, PeriodFacts
from finops.economics.rows.base import Figure, Row, Threshold, Unit, offender, ratio

AGENT_INSTALL = "pip install nvidia-ml-py && python3 finops_agent.py --server URL --token TOKEN"


def judge(f: PeriodFacts, t: dict) -> dict:
    """Fires on measured idleness, unowned paid GPU time (measured or not) and zombies; hosts no agent reports on
    are listed with their unmeasured cost and the move "install the agent", without firing on their own."""
    offenders, fires = [], False
    for h in f.hosts:
        measured_paid = _measured_paid(h)
        share = ratio(h.idle_cost, measured_paid) if measured_paid > 0 else None
        if share is not None and share > t["idle_share_of_paid_hours"]:
            offenders.append(offender("host", h.host, h.host, h.idle_cost, f"idle {share:.0%} of measured paid time",
                                      measure="idle"))  # fmt: skip
            fires = True
        elif h.unowned_idle_cost > 0:
            offenders.append(offender("host", h.host, h.host, h.unowned_idle_cost, "idle GPU time with no owner",
                                      measure="unowned_idle"))  # fmt: skip
            fires = True
        if h.unmeasured_cost > 0:
            agent = "its agent was silent for part of the billed time" if h.agent else "no agent reports on it"
            move = "check the agent" if h.agent else "install the agent"
            why = f"{agent}: {move}"
            if h.unowned_unmeasured_cost > 0:
                why = f"running with no owner, and {agent}: tag an owner and {move}"
                fires = True
            offenders.append(offender("host", h.host, h.host, h.unmeasured_cost, why, at_stake=False,
                                      measure="unmeasured"))  # fmt: skip
        if Decimal(h.zombie_seconds) / 3600 > t["zombie_hours"]:
            hours = Decimal(h.zombie_seconds) / 3600
            offenders.append(offender("host", h.host, h.host, _zombie_cost(h), f"zombie process for {hours:.1f} h",
                                      measure="zombie"))  # fmt: skip
            fires = True
    unmeasured = [h for h in f.hosts if h.unmeasured_cost > 0 and not h.agent]
    any_measured = any(_measured_paid(h) > 0 for h in f.hosts)
    if not f.hosts:
        note = "No GPU hosts yet: install the agent or upload a bill with GPU instances."
    elif unmeasured:
        plural = "s" if len(unmeasured) != 1 else ""
        note = f"No agent reports on {len(unmeasured)} GPU host{plural}; install it: {AGENT_INSTALL}"
    elif any(h.unmeasured_cost > 0 for h in f.hosts):
        note = "An agent was silent for part of the billed GPU time: that time is unmeasured, not idle."
    else:
        note = ""
    return {
        "measured": {
            "idle_gpu_hours": sum((h.idle_gpu_seconds for h in f.hosts), ZERO) / 3600,
            "idle_cost": sum((h.idle_cost for h in f.hosts), ZERO),
            "unmeasured_cost": sum((h.unmeasured_cost for h in f.hosts), ZERO),
            "paid_cost": sum((h.paid_cost for h in f.hosts), ZERO),
            "hosts": len(f.hosts),
            "hosts_without_agent": len(unmeasured),
        },
        # Nothing fired and no agent measured anything: not known to be fine.
        "stop_sign": True if fires else (False if any_measured else None),
        "offenders": offenders,
        "note": note,
    }


def _measured_paid(h: HostFacts) -> Decimal:
    """The paid cost of the host's time an agent measured (the GPU-seconds it reported cover only that)."""
    return h.paid_cost - h.unmeasured_cost - h.tagged_unmeasured_cost


def _zombie_cost(h: HostFacts) -> Decimal:
    if not h.paid_gpu_seconds:
        return ZERO
    return _measured_paid(h) * Decimal(h.zombie_seconds) / h.paid_gpu_seconds


ROW = Row(
    key="idle_gpu",
    title="Idle GPU",
    measures="Paid time with low useful work",
    founder_move="Shut-off rules and owner alerts",
    fires_when="A running GPU has no owner, or idles past the limit",
    thresholds=(
        Threshold(
            "idle_share_of_paid_hours",
            Decimal("0.25"),
            Unit.SHARE,
            "a host idle more than this share of its paid hours",
        ),
        Threshold(
            "zombie_hours",
            Decimal("2"),
            Unit.HOURS,
            "a zombie process lasting longer than this many hours",
        ),
    ),
    figures=(
        Figure("idle_gpu_hours", Unit.HOURS),
        Figure("idle_cost", Unit.MONEY),
        Figure("unmeasured_cost", Unit.MONEY),
        Figure("paid_cost", Unit.MONEY),
        Figure("hosts", Unit.COUNT),
        Figure("hosts_without_agent", Unit.COUNT),
    ),
    offender_kinds=("host",),
    judge=judge,
)
