"""Figure names read as people write them."""

from finops.templatetags.money_tags import humanize_key


def test_it_writes_acronyms_in_capitals():
    assert humanize_key("cost_per_completed_job") == "Cost per completed job"
    assert humanize_key("gpu_hours") == "GPU hours"
    assert humanize_key("idle_gpu_hours") == "Idle GPU hours"
    assert humanize_key("ai_cost") == "AI cost"
    assert humanize_key("api_gap") == "API gap"
