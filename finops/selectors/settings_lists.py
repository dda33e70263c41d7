"""The organisation's own lists shown on its settings pages: bucket rules, releases, learning questions."""

from finops.models import BucketRule, LearningQuestion, Release


def bucket_rule_list(*, org):
    """The organisation's bucket rules, in the order they apply."""
    return BucketRule.objects.for_org(org)


def release_list(*, org):
    """Releases, newest first."""
    return Release.objects.for_org(org)


def learning_question_list(*, org):
    """Recorded learning questions, newest first."""
    return LearningQuestion.objects.for_org(org).order_by("-created_at")
