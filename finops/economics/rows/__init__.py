"""The Founder Table rows, in the table's order: one module per row declares it (`ROW`: title, founder move,
thresholds, figures with their units, offender kinds) beside its rule (`judge`). To add a row, add its module and
name it in `ROWS`; the engine (finops/economics/rules.py), the thresholds form, the page and the API follow.

The registry is read when asked (`thresholds()`, `default_thresholds()`...), never copied at import, so a row
registered later (a test's) is in all of them.
"""

from finops.economics.rows import (
    batch_job,
    customer_tier,
    evaluation_run,
    free_trial,
    idle_gpu,
    inference_request,
    model_route,
    provider_commitment,
    shared_cluster,
    training_run,
)
from finops.economics.rows.base import Figure, Row, Threshold, Unit

__all__ = ["ROWS", "Figure", "Row", "Threshold", "Unit", "default_thresholds", "row_by_key",
           "threshold_help", "thresholds"]  # fmt: skip

ROWS: tuple[Row, ...] = (
    training_run.ROW,
    inference_request.ROW,
    idle_gpu.ROW,
    batch_job.ROW,
    model_route.ROW,
    evaluation_run.ROW,
    free_trial.ROW,
    customer_tier.ROW,
    shared_cluster.ROW,
    provider_commitment.ROW,
)


def row_by_key(key: str) -> Row:
    """The row declared under `key`; KeyError for none."""
    for row in ROWS:
        if row.key == key:
            return row
    raise KeyError(f"no Founder Table row {key!r}")


def thresholds() -> list[tuple[Row, Threshold]]:
    """Every row's thresholds, in the table's order, each with its row."""
    return [(row, threshold) for row in ROWS for threshold in row.thresholds]


def default_thresholds() -> dict:
    """{threshold key: its default}, in the table's order."""
    return {threshold.key: threshold.default for _, threshold in thresholds()}


def threshold_help(row: Row, threshold: Threshold) -> str:
    """What a threshold decides, as the thresholds page labels it: 'Free trial: one trial account spending ...'."""
    return f"{row.title}: {threshold.help}"
