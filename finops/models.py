from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import models
from django.utils import timezone

from accounts.models import Organization, OrgOwned, OrgOwnedWithCode, org_foreign_key
from finops.money import MoneyField


class Kind(models.TextChoices):
    """Which term of the identity `billed_total = allocated + idle + unmeasured + unattributed` a cost is."""

    ALLOCATED = "allocated", "Allocated"
    IDLE = "idle", "Idle"
    UNMEASURED = "unmeasured", "Unmeasured"
    UNATTRIBUTED = "unattributed", "Unattributed"


class Bucket(models.TextChoices):
    RESEARCH = "research", "Research"
    TRAINING = "training", "Training and tuning"
    EVALUATION = "evaluation", "Evaluation"
    INFERENCE = "inference", "Inference"
    RETRIES = "retries", "Retries"
    IDLE = "idle", "Idle"
    UNMEASURED = "unmeasured", "Unmeasured GPU time"
    WASTE = "waste", "Waste"


# The buckets a bucket rule may place work in (idle and unmeasured are decided by what the agent saw).
RULE_BUCKETS = ("research", "training", "evaluation", "inference", "retries", "waste")


class Label(models.TextChoices):
    CUSTOMER_VALUE = "customer_value", "Customer value"
    PRODUCT_PROOF = "product_proof", "Product proof"
    APPROVED_LEARNING = "approved_learning", "Approved learning"
    UNLABELLED = "unlabelled", "Unlabelled"


class DaySums(OrgOwned):
    """What every rollup table has: an organisation's day, the identity term, and the sums in one currency.

    Like the ledgers, the rollup tables are written in bulk by the rollup only, so they have no per-row foreign-key
    triggers (a day's COPY of thousands of rows would queue one deferred check each, about as long as the COPY
    itself); Django cascades an organisation's deletion."""

    org = org_foreign_key(db_index=False, db_constraint=False)
    day = models.DateField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    currency = models.CharField(max_length=3)
    cost_amount = MoneyField()
    calls = models.BigIntegerField(default=0)
    unpriced_calls = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    gpu_seconds = models.DecimalField(max_digits=20, decimal_places=3, default=0)

    class Meta:
        abstract = True


class WorkSums(DaySums):
    """The workload dimensions Rollup and WorkRollup share: where a cost came from, its bucket and label, and what
    it was for."""

    source = models.CharField(max_length=24, help_text="gpu_bill, gpu_rate, api_calls, api_gap, cloud_tagged, ...")
    bucket = models.CharField(max_length=12, choices=Bucket.choices)
    label = models.CharField(max_length=20, choices=Label.choices)
    plan = models.CharField(max_length=100, blank=True)
    feature = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=100, blank=True)
    owner = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=200, blank=True)
    host = models.CharField(max_length=255, blank=True)
    deferrable = models.BooleanField(default=False)

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.day} {self.kind} {self.bucket} {self.cost_amount} {self.currency}"


class JsonArrayLength(models.Func):
    """How many elements a JSON array holds (PostgreSQL's jsonb_array_length, SQLite's json_array_length)."""

    function = "JSON_ARRAY_LENGTH"
    output_field = models.IntegerField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="JSONB_ARRAY_LENGTH", **extra_context)


# The Rollup columns the explorer filters by, a row's values as 'org:column:value' tokens in one array. PostgreSQL
# keeps a GIN index over that array (finops migration 0015, which holds this expression as it stood), so a filter
# finds its few rows of a period without reading the period's other rows (12k a day at the benchmark's tenant).
# Only the columns of many values (and kind and source, for the few rows of idle, unmeasured, unattributed and GPU
# time): each token costs the rollup's writes (at the busiest day, 28k rows, these 11 cost about a tenth of its
# recompute), and a value most rows hold is read faster by day.
TOKEN_COLUMNS = ("kind", "source", "plan", "feature", "owner", "model", "host", "customer", "route", "service",
                 "resource")  # fmt: skip
ROLLUP_TOKENS = "ARRAY[" + ", ".join(f"(org_id::text || ':{c}:' || {c})" for c in TOKEN_COLUMNS) + "]"


def rollup_token(org_id: int, column: str, value: str) -> str:
    """The token of a rollup row of `org_id` whose `column` is `value`, as ROLLUP_TOKENS writes it."""
    return f"{org_id}:{column}:{value}"


class Rollup(WorkSums):
    """One day's cost of one workload slice, from one kind of source: what pages and the API read.

    Rows of an (org, day) are replaced as a whole by the rollup (finops/services/rollups.py); their sum
    for a day is everything the organisation paid for that day, so the identity holds by rows.
    `cost_line_ids` names the bill lines an amount came from (the drill-down); calls are found again
    by the row's own dimensions and day.
    """

    customer = models.CharField(max_length=200, blank=True)
    route = models.CharField(max_length=200, blank=True)
    # The bill's service and resource of cost that came from bill lines ('' for calls and agent-measured GPU time,
    # whose rows the SQL rollup writes without them: hence the database default).
    service = models.CharField(max_length=200, blank=True, db_default="")
    resource = models.CharField(max_length=300, blank=True, db_default="")
    job_outcome = models.CharField(max_length=10, blank=True, help_text="completed or failed for job calls")
    cost_line_ids = models.JSONField(default=list, blank=True)
    # How many lines `cost_line_ids` names, kept by the database: what the explorer counts a day's filtered rows'
    # lines by, without reading each row's ids (an array of thousands lives out of line, in TOAST).
    cost_line_count = models.GeneratedField(
        expression=JsonArrayLength("cost_line_ids"), output_field=models.IntegerField(), db_persist=True
    )

    class Meta:
        indexes = [models.Index(fields=["org", "day"], name="rollup_org_day")]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_microseconds(at: datetime) -> int:
    """A moment as whole microseconds since the Unix epoch, exactly (how RollupLineRun.lines keeps a line's start)."""
    return (at - EPOCH) // timedelta(microseconds=1)


class RollupLineRun(OrgOwned):
    """A run of up to RUN_SIZE of the bill lines one day's rollup rows name (their `cost_line_ids`) in one currency of
    the rows, in (start, id) order: what the explorer reads to list a period's lines a page at a time without
    expanding every id of a day (at 100k lines a day, ~100 ms a page). A day's runs are written with its rollup rows
    and replaced with them: a few hundred rows a day, not one per line.

    `lines` holds [start in microseconds since the Unix epoch, line id] pairs. `started_before` runs hold the lines
    named on a day after the one they start (they run into it); the others hold each line on its own start day, so
    those runs are in page order by their last line across days."""

    RUN_SIZE = 250

    org = org_foreign_key(db_index=False, db_constraint=False)  # no database constraint, as DaySums
    day = models.DateField()
    currency = models.CharField(max_length=3)
    started_before = models.BooleanField(help_text="The lines start before this day")
    last_at = models.DateTimeField(help_text="The start of the run's last line")
    last_line_id = models.BigIntegerField(help_text="The id of the run's last line")
    size = models.IntegerField()
    lines = models.JSONField(help_text="[[start in microseconds since the epoch, line id], ...] in that order")

    class Meta:
        indexes = [
            models.Index(fields=["org", "day"], name="rollupline_org_day"),
            models.Index(
                fields=["org", "currency", "last_at", "last_line_id"],
                condition=models.Q(started_before=False),
                name="rollupline_own_last",
            ),
            models.Index(
                fields=["org", "currency", "day"],
                condition=models.Q(started_before=True),
                name="rollupline_carried_day",
            ),
        ]

    def __str__(self):
        return f"{self.day} {self.size} lines to {self.last_line_id} {self.currency}"


class WorkRollup(WorkSums):
    """A day's rollup rows summed without their customer and route: what the Founder Table, the metrics, the
    anomalies and the Costs page read, a fraction of the rows (written with the day's Rollup rows, from them).

    `has_unpriced` is each source row's own (unpriced_calls > 0), kept as a dimension, so "the priced slices" means
    the same here as on Rollup."""

    has_unpriced = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["org", "day"], name="workrollup_org_day")]


class CustomerRollup(DaySums):
    """A day's rollup rows summed per customer and plan ('' for cost no customer carries), and by whether an
    allocation key placed the cost (`by_key`) or the customer's own tags, calls or GPU time did (direct cost)."""

    customer = models.CharField(max_length=200, blank=True)
    plan = models.CharField(max_length=100, blank=True)
    by_key = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["org", "day"], name="customerrollup_org_day")]

    def __str__(self):
        return f"{self.day} {self.customer or '(no customer)'} {self.cost_amount} {self.currency}"


class JobRollup(OrgOwned):
    """One day's jobs of one slice: a real job (`job_id`) per row, single calls grouped with job_id ''."""

    org = org_foreign_key(db_index=False, db_constraint=False)  # no database constraint, as DaySums
    day = models.DateField()
    job_id = models.CharField(max_length=200, blank=True)
    customer = models.CharField(max_length=200, blank=True)
    plan = models.CharField(max_length=100, blank=True)
    feature = models.CharField(max_length=200, blank=True)
    purpose = models.CharField(max_length=20, blank=True)
    jobs_completed = models.IntegerField(default=0)
    jobs_failed = models.IntegerField(default=0)
    attempts = models.IntegerField(default=0)
    cost_completed_amount = MoneyField(default=0)
    cost_failed_amount = MoneyField(default=0)
    retry_cost_amount = MoneyField(default=0)
    currency = models.CharField(max_length=3)
    gpu_seconds = models.DecimalField(max_digits=20, decimal_places=3, default=0)
    unpriced_calls = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["org", "day"], name="jobrollup_org_day")]

    def __str__(self):
        return f"{self.day} {self.job_id or 'calls'}"


class RollupDay(OrgOwned):
    """When an (org, day) was last recomputed, and how many rows it produced: the rollup's own record."""

    day = models.DateField()
    computed_at = models.DateTimeField(default=timezone.now)
    rows = models.IntegerField(default=0)
    named_lines = models.CharField(
        max_length=64, blank=True, help_text="A digest of the lines the day's rows name (its runs stay while it holds)"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "day"], name="rollupday_unique_org_day")]

    def __str__(self):
        return f"{self.org_id} {self.day}"


class EconomicsSettings(OrgOwned):
    """An organisation's choices for the economics: stop-sign thresholds, allocation key, energy price."""

    class Key(models.TextChoices):
        NONE = "none", "Leave it unattributed (the mystery bucket)"
        EVEN = "even", "Evenly across the day's active customers"
        GPU_HOURS = "gpu_hours", "By customers' GPU-hours"
        TOKENS = "tokens", "By customers' tokens"
        REQUESTS = "requests", "By customers' requests"
        BLEND = "blend", "A weighted blend of the above"

    org = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="economics_settings")
    thresholds = models.JSONField(default=dict, blank=True, help_text="Stop-sign threshold -> value (text)")
    shared_cost_key = models.CharField(max_length=12, choices=Key.choices, default=Key.NONE)
    api_gap_key = models.CharField(max_length=12, choices=Key.choices, default=Key.NONE)
    blend_weights = models.JSONField(default=dict, blank=True, help_text="{gpu_hours, tokens, requests, even}")
    group_keys = models.JSONField(
        default=dict, blank=True, help_text="Cost group (bill service name pattern) -> key, before the default key"
    )
    electricity_price_amount = MoneyField(default=0, help_text="Per kWh, for owned hardware")
    pue = models.DecimalField(max_digits=5, decimal_places=3, default=1)
    target_margin_pct = models.DecimalField(max_digits=5, decimal_places=2, default=60)
    payment_fee_pct = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal("2.9"),
                                          help_text="The payment processor's share of each payment")  # fmt: skip
    payment_fee_fixed_amount = MoneyField(default=Decimal("0.30"), help_text="Its fixed fee per payment")
    trial_plan = models.CharField(max_length=100, default="trial", help_text="The plan name of trial accounts")
    deferrable_features = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"economics settings of {self.org_id}"


class BucketRule(OrgOwnedWithCode):
    """`tag purpose=eval -> evaluation`: where a cost with no purpose of its own lands."""

    class Field(models.TextChoices):
        PURPOSE = "purpose", "Purpose tag or label"
        FEATURE = "feature", "Feature"
        OWNER = "owner", "Owner"
        JOB = "job_id", "Job id"
        SERVICE = "service", "Bill service name"
        MODEL = "model", "Model"

    field = models.CharField(max_length=12, choices=Field.choices)
    pattern = models.CharField(max_length=200, help_text="Matched case-insensitively; * matches anything")
    bucket = models.CharField(max_length=12, choices=Bucket.choices)
    position = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "created_at"]

    def __str__(self):
        return f"{self.field}={self.pattern} -> {self.bucket}"


class Release(OrgOwnedWithCode):
    """A release of the product: evaluation spend is judged against these."""

    name = models.CharField(max_length=200)
    released_at = models.DateTimeField()

    class Meta:
        ordering = ["-released_at"]
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="release_unique_org_name")]

    def __str__(self):
        return self.name


class LearningQuestion(OrgOwnedWithCode):
    """The question (and later the decision) a training or research run answers: it makes the run approved."""

    run = models.CharField(max_length=200, help_text="The run's job id")
    question = models.TextField()
    decision = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "run"], name="learningquestion_unique_org_run")]

    def __str__(self):
        return f"{self.run}: {self.question[:40]}"


class Commitment(OrgOwnedWithCode):
    """Capacity committed outside the bill's own commitment lines: reserved GPUs at a GPU cloud, committed API
    spend, and capacity promised to customers with the revenue it serves."""

    class Kind(models.TextChoices):
        GPU_RESERVATION = "gpu_reservation", "Reserved GPU hosts"
        API_SPEND = "api_spend", "Committed API spend"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    provider = models.CharField(max_length=100, help_text="For API spend: openai, anthropic, ...")
    hosts = models.CharField(
        max_length=1000, blank=True, help_text="For reserved GPUs: agent host names, comma-separated"
    )
    monthly_amount = MoneyField(help_text="What the commitment costs per month")
    currency = models.CharField(max_length=3)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    promised_revenue_amount = MoneyField(
        null=True, blank=True, help_text="Monthly revenue of the customers this capacity is promised to, if any"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def host_names(self) -> list[str]:
        return [h.strip() for h in self.hosts.split(",") if h.strip()]


class ExchangeRate(OrgOwned):
    """How many units of the org's currency one unit of `currency` is worth, from a date on."""

    currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=20, decimal_places=10)
    effective_from = models.DateField()

    class Meta:
        ordering = ["currency", "effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["org", "currency", "effective_from"], name="exchangerate_unique_day")
        ]

    def __str__(self):
        return f"{self.currency} {self.rate} from {self.effective_from}"


class GpuRate(OrgOwnedWithCode):
    """One GPU type on the organisation's rate card: what renting costs per GPU-hour and buying per GPU.

    Types the organisation has not saved show the bundled public list prices (pricing/gpu_prices.py).
    """

    gpu_type = models.CharField(max_length=100, help_text="H100 SXM, A100 80GB, L40S, L4, ...")
    match_name = models.CharField(max_length=50, help_text="Agent GPU names containing this word are this type")
    on_demand_hourly_amount = MoneyField(null=True, blank=True, help_text="Per GPU-hour")
    reserved_1y_hourly_amount = MoneyField(null=True, blank=True, help_text="Per GPU-hour, 1-year commitment")
    reserved_3y_hourly_amount = MoneyField(null=True, blank=True, help_text="Per GPU-hour, 3-year commitment")
    spot_hourly_amount = MoneyField(null=True, blank=True, help_text="Per GPU-hour")
    purchase_amount = MoneyField(help_text="Per GPU, its share of the server included")
    power_watts = models.IntegerField(help_text="Average draw per GPU with its share of the server")
    currency = models.CharField(max_length=3)
    source = models.CharField(max_length=1000, blank=True, help_text="Where the prices come from")
    as_of = models.DateField(null=True, blank=True, help_text="The date of the prices")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["gpu_type"]
        constraints = [models.UniqueConstraint(fields=["org", "gpu_type"], name="gpurate_unique_org_type")]

    def __str__(self):
        return self.gpu_type


class Budget(OrgOwnedWithCode):
    """A spending limit for a scope and a period (UTC day, ISO week, calendar month), in the org's currency.

    What counts as spent comes from the rollups; the budget check adds what it has reserved for jobs it allowed
    and whose cost has not landed yet."""

    class Scope(models.TextChoices):
        ORG = "org", "The whole organisation"
        CUSTOMER = "customer", "One customer"
        PLAN = "plan", "Every customer on a plan"
        FEATURE = "feature", "One feature"
        TRIAL = "trial", "All trial accounts together"

    class Period(models.TextChoices):
        DAY = "day", "Day"
        WEEK = "week", "Week"
        MONTH = "month", "Month"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    target = models.CharField(max_length=200, blank=True, help_text="The customer id, plan or feature")
    period = models.CharField(max_length=5, choices=Period.choices)
    amount = MoneyField()
    currency = models.CharField(max_length=3)
    alert_at = models.DecimalField(
        max_digits=4, decimal_places=3, default=Decimal("0.8"), help_text="Alert when this fraction is spent"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["scope", "target", "period"]
        constraints = [
            models.UniqueConstraint(fields=["org", "scope", "target", "period"], name="budget_unique_scope_period")
        ]

    def __str__(self):
        return f"{self.scope} {self.target} per {self.period}".replace("  ", " ")


class BudgetReservation(OrgOwned):
    """What an allowed budget check holds against one budget until the job's cost lands or the hold expires: kept
    per check so it can be released; the sums that checks read are in BudgetHold."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="reservations")
    check_code = models.UUIDField(help_text="The budget check that made it; one check reserves on every budget")
    customer = models.CharField(max_length=200, blank=True)
    feature = models.CharField(max_length=200, blank=True)
    amount = MoneyField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["budget", "expires_at"], name="budgetreservation_live")]

    def __str__(self):
        return f"{self.amount} on {self.budget_id} until {self.expires_at}"


class BudgetHold(OrgOwned):
    """What checks hold on one budget, summed per minute at which the holds expire: however many checks there were,
    reading a budget's live holds reads at most one row per minute of `BUDGET_RESERVATION_MINUTES`."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="holds")
    expires_at = models.DateTimeField(help_text="A whole minute")
    amount = MoneyField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["budget", "expires_at"], name="budgethold_unique_minute")]

    def __str__(self):
        return f"{self.amount} on {self.budget_id} until {self.expires_at}"


class BudgetAlert(OrgOwned):
    """One alert e-mail per budget and period: claimed before it is sent, so it goes out once."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts")
    period_start = models.DateField()
    spent_amount = MoneyField()
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["budget", "period_start"], name="budgetalert_unique_budget_period")
        ]

    def __str__(self):
        return f"alert for {self.budget_id} from {self.period_start}"


class Digest(OrgOwned):
    """One weekly digest e-mail for one member: claimed (`sent_at`) before it is sent, so it goes out once per
    organisation, user and week."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    week = models.DateField(help_text="The Monday of the ISO week it reports")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "user", "week"], name="digest_unique_org_user_week")]

    def __str__(self):
        return f"digest of {self.week} for {self.user_id}"
