from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import OrgOwned, OrgOwnedWithCode, org_foreign_key
from finops.money import MoneyField

QUANTITY = {"max_digits": 30, "decimal_places": 10, "null": True, "blank": True}


def upload_path(instance, filename):
    return f"uploads/{instance.org.code}/{instance.code}/{filename[-120:]}"


class Upload(OrgOwnedWithCode):
    """One file handed to us (page, API or command) and what became of it."""

    class Kind(models.TextChoices):
        BILL = "bill", "Cloud bill"
        USAGE = "usage", "LLM usage"
        REVENUE = "revenue", "Revenue"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    format = models.CharField(max_length=40, blank=True, help_text="Detected or given source format")
    requested_format = models.CharField(max_length=40, blank=True)
    mapping = models.ForeignKey("ColumnMapping", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    file = models.FileField(upload_to=upload_path, max_length=300)
    original_name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.IntegerField(default=0, help_text="Records read from the file")
    rows_loaded = models.IntegerField(default=0, help_text="Ledger rows written")
    rows_replaced = models.IntegerField(default=0, help_text="Rows of earlier uploads this one replaced")
    rows_duplicate = models.IntegerField(default=0, help_text="Usage events already held, skipped")
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    cost_basis = models.CharField(max_length=10, blank=True)
    totals = models.JSONField(default=dict, blank=True, help_text="Billed total per currency, decimal strings")
    errors = models.JSONField(default=list, blank=True, help_text="[{row, column, message}]")
    error_count = models.IntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["org", "-created_at"])]

    def __str__(self):
        return f"{self.original_name} ({self.status})"


class ColumnMapping(OrgOwnedWithCode):
    """How to read one GPU cloud's CSV invoices: which column holds the date, amount, and so on."""

    name = models.CharField(max_length=100, help_text="e.g. 'Lambda invoices'")
    provider = models.CharField(max_length=100, help_text="Shown as the provider of every line, e.g. 'Lambda'")
    columns = models.JSONField(default=dict, help_text="Our field -> the file's column name")
    currency = models.CharField(max_length=3, blank=True, help_text="Used when the file has no currency column")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="columnmapping_unique_org_name")]

    def __str__(self):
        return self.name


class BillPeriod(OrgOwned):
    """One provider account's billing period: the unit a restated bill replaces.

    `upload` is the upload whose lines stand for the period now; a later upload of the same
    period deletes that upload's lines of the period and takes its place.
    """

    provider = models.CharField(max_length=100)
    billing_account_id = models.CharField(max_length=200)
    billing_period_start = models.DateTimeField()
    billing_period_end = models.DateTimeField(null=True, blank=True)
    cost_basis = models.CharField(max_length=10, blank=True, help_text="actual or amortised where the source says")
    upload = models.ForeignKey(Upload, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["org", "provider", "billing_account_id", "billing_period_start"], name="billperiod_unique_slice"
            )
        ]

    def __str__(self):
        return f"{self.provider} {self.billing_account_id} {self.billing_period_start:%Y-%m}"


class CostLine(OrgOwned):
    """The cost ledger: one normalised bill line, FOCUS-shaped, traceable to its upload and row."""

    # The importer is the only writer and sets both from rows of the same transaction, so the per-row
    # foreign-key triggers (a large share of COPY time) are left out; Django still cascades deletes.
    # No index of its own on org: (org, charge_period_start) leads with it. The billing period a line
    # belongs to is (provider, billing_account_id, billing_period_start): see BillPeriod.
    org = org_foreign_key(db_index=False, db_constraint=False)
    # No index of its own on upload: (upload, source_row) leads with it (deletes by upload, an upload's first lines).
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    source_row = models.IntegerField(help_text="Row of the uploaded file (header = 1)")
    provider = models.TextField(blank=True)
    billing_account_id = models.TextField(blank=True)
    billing_account_name = models.TextField(blank=True)
    sub_account_id = models.TextField(blank=True)
    sub_account_name = models.TextField(blank=True)
    billing_period_start = models.DateTimeField()
    billing_period_end = models.DateTimeField(null=True, blank=True)
    charge_period_start = models.DateTimeField()
    charge_period_end = models.DateTimeField(null=True, blank=True)
    charge_category = models.CharField(max_length=12)
    charge_class = models.TextField(blank=True)
    charge_frequency = models.TextField(blank=True)
    charge_description = models.TextField(blank=True)
    region = models.TextField(blank=True)
    service_name = models.TextField(blank=True)
    service_category = models.TextField(blank=True)
    resource_id = models.TextField(blank=True)
    resource_name = models.TextField(blank=True)
    resource_type = models.TextField(blank=True)
    sku_id = models.TextField(blank=True)
    gpu_type = models.TextField(blank=True)
    pricing_quantity = models.DecimalField(**QUANTITY)
    pricing_unit = models.TextField(blank=True)
    consumed_quantity = models.DecimalField(**QUANTITY)
    consumed_unit = models.TextField(blank=True)
    billed_cost_amount = MoneyField()
    effective_cost_amount = MoneyField()
    list_cost_amount = MoneyField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    commitment_discount_id = models.TextField(blank=True)
    commitment_discount_status = models.TextField(blank=True)
    commitment_discount_type = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    customer = models.TextField(blank=True)
    feature = models.TextField(blank=True)
    environment = models.TextField(blank=True)
    owner = models.TextField(blank=True)
    purpose = models.TextField(blank=True)
    shutoff = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["org", "charge_period_start"], name="costline_org_day"),
            models.Index(fields=["upload", "source_row"], name="costline_upload_row"),
            # The few commitment lines, for the Founder Table's commitments (an index-only scan: it holds the
            # columns summed); COPY pays for it only on those lines.
            models.Index(
                fields=["org", "charge_period_start"],
                name="costline_org_day_commitment",
                include=["commitment_discount_id", "commitment_discount_status", "billed_cost_amount"],
                condition=~models.Q(commitment_discount_id=""),
            ),
        ]

    def __str__(self):
        return f"{self.provider} {self.service_name} {self.billed_cost_amount} {self.currency}"


class DirtyDay(OrgOwned):
    """An (org, day) whose rollups must be recomputed because ingest touched it."""

    day = models.DateField()
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "day"], name="dirtyday_unique_org_day")]

    def __str__(self):
        return f"{self.org_id} {self.day}"


class QuarantinedDay(OrgOwned):
    """An (org, day) whose rollup failed: kept apart so every other day recomputes and every read answers from
    the rollup rows the day had before. Retried when the day is marked dirty again (the data changed, e.g. the
    upload that brought the bad rows was deleted) or after `retry_after`; removed when a recompute succeeds."""

    day = models.DateField()
    error = models.TextField(help_text="The last failure, truncated")
    attempts = models.IntegerField(default=1)
    first_failed_at = models.DateTimeField(default=timezone.now)
    last_failed_at = models.DateTimeField(default=timezone.now)
    retry_after = models.DateTimeField(help_text="Not recomputed before then unless its data changes")

    class Meta:
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["org", "day"], name="quarantinedday_unique_org_day")]

    def __str__(self):
        return f"{self.org_id} {self.day}"


class ContractCommitment(OrgOwned):
    """A FOCUS 1.3 contract commitment: what was committed to a provider, for commitment utilisation."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="+")
    source_row = models.IntegerField()
    provider = models.CharField(max_length=100, blank=True)
    contract_id = models.CharField(max_length=200, blank=True)
    commitment_id = models.CharField(max_length=200)
    category = models.CharField(max_length=10, help_text="spend or usage")
    commitment_type = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField(null=True, blank=True)
    contract_period_start = models.DateTimeField(null=True, blank=True)
    contract_period_end = models.DateTimeField(null=True, blank=True)
    cost_amount = MoneyField(null=True, blank=True)
    quantity = models.DecimalField(**QUANTITY)
    unit = models.CharField(max_length=100, blank=True)
    currency = models.CharField(max_length=3)

    class Meta:
        indexes = [models.Index(fields=["org", "commitment_id"])]

    def __str__(self):
        return f"{self.provider} {self.commitment_id} {self.period_start:%Y-%m-%d}"


class UsageEvent(OrgOwned):
    """The usage ledger: one model call, or one provider aggregate of `request_count` calls.

    Token counts follow one meaning whatever the source: `input_tokens` excludes cached input
    (OpenAI's include it; the importer subtracts), `cached_input_tokens` are cache reads.
    Unknown is null, never 0; a call with no known price is `unpriced` with a null cost.
    """

    class CostSource(models.TextChoices):
        REPORTED = "reported", "Reported by the provider or gateway"
        CATALOGUE = "catalogue", "Priced from the catalogue"
        UNPRICED = "unpriced", "Unpriced"

    # Like the cost ledger: written in bulk by ingest only, so no per-row foreign-key triggers.
    org = org_foreign_key(db_index=False, db_constraint=False)
    upload = models.ForeignKey(
        Upload, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    source_row = models.IntegerField(null=True, blank=True, help_text="Row or item of the uploaded file")
    event_id = models.CharField(max_length=200, help_text="Unique per organisation: the idempotency key")
    occurred_at = models.DateTimeField()
    period_end = models.DateTimeField(null=True, blank=True, help_text="End of the bucket for aggregate rows")
    is_aggregate = models.BooleanField(default=False)
    request_count = models.IntegerField(default=1)
    provider = models.CharField(max_length=100)
    model = models.CharField(max_length=200)
    route = models.CharField(max_length=200, blank=True)
    customer = models.CharField(max_length=200, blank=True)
    feature = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=100, blank=True)
    purpose = models.CharField(max_length=20, blank=True)
    job_id = models.CharField(max_length=200, blank=True)
    attempt = models.IntegerField(default=1)
    status = models.CharField(max_length=5, default="ok")
    error_type = models.CharField(max_length=200, blank=True)
    input_tokens = models.BigIntegerField(null=True, blank=True)
    output_tokens = models.BigIntegerField(null=True, blank=True)
    cached_input_tokens = models.BigIntegerField(null=True, blank=True)
    cache_write_tokens = models.BigIntegerField(null=True, blank=True)
    reasoning_tokens = models.BigIntegerField(null=True, blank=True)
    latency_ms = models.IntegerField(null=True, blank=True)
    cost_amount = MoneyField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    cost_source = models.CharField(max_length=10, choices=CostSource.choices)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "event_id"], name="usageevent_unique_org_event")]
        indexes = [
            models.Index(fields=["org", "occurred_at"], name="usageevent_org_time"),
            # A customer's calls in time order (the explorer's drill-down to a customer's calls, which would otherwise
            # scan a period's calls of every customer to find few or none).
            models.Index(fields=["org", "customer", "occurred_at"], name="usageevent_org_customer_time"),
        ]

    def __str__(self):
        return f"{self.provider}/{self.model} {self.event_id}"


class GpuHost(OrgOwnedWithCode):
    """A machine running the agent; its token (accounts.AgentToken) names it."""

    name = models.CharField(max_length=255)
    provider = models.CharField(max_length=100, blank=True)
    instance_type = models.CharField(max_length=100, blank=True)
    bill_resource_id = models.CharField(max_length=500, blank=True, help_text="The resource id of its bill lines")
    hourly_rate_amount = MoneyField(null=True, blank=True, help_text="For owned or prepaid hardware with no bill line")
    currency = models.CharField(max_length=3, blank=True)
    owner = models.CharField(max_length=200, blank=True)
    driver_version = models.CharField(max_length=100, blank=True)
    agent_version = models.CharField(max_length=50, blank=True)
    # The token names the host; the machine it runs on is the first hostname an agent reported with it.
    reported_hostname = models.CharField(
        max_length=255, blank=True, help_text="The hostname of the machine its agent runs on (the first one seen)"
    )
    interval_seconds = models.IntegerField(default=10)
    last_seen_at = models.DateTimeField(null=True, blank=True, help_text="Newest sample received")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="gpuhost_unique_org_name")]

    def __str__(self):
        return self.name


class Gpu(OrgOwned):
    host = models.ForeignKey(GpuHost, on_delete=models.CASCADE, related_name="gpus")
    uuid = models.CharField(max_length=100)
    index = models.IntegerField(default=0)
    name = models.CharField(max_length=200, blank=True)
    memory_total_bytes = models.BigIntegerField(null=True, blank=True)
    mig_mode = models.IntegerField(null=True, blank=True)
    # The newest energy counter reading, so the first sample of the next batch has a delta too.
    energy_counter_mj = models.BigIntegerField(null=True, blank=True, help_text="Last total energy counter reading")
    energy_counter_at = models.DateTimeField(null=True, blank=True, help_text="When that reading was sampled")

    class Meta:
        ordering = ["host", "index"]
        constraints = [models.UniqueConstraint(fields=["org", "uuid"], name="gpu_unique_org_uuid")]

    def __str__(self):
        return f"{self.host} #{self.index} {self.name}"


class AgentBatch(OrgOwned):
    """One batch received from an agent: makes a retried or replayed batch harmless."""

    host = models.ForeignKey(GpuHost, on_delete=models.CASCADE, related_name="+")
    batch_id = models.CharField(max_length=200)
    received_at = models.DateTimeField(default=timezone.now)
    samples = models.IntegerField(default=0)
    processes = models.IntegerField(default=0)
    first_at = models.DateTimeField(null=True, blank=True)
    last_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["host", "batch_id"], name="agentbatch_unique_host_batch")]

    def __str__(self):
        return self.batch_id


class GpuMinute(OrgOwned):
    """One GPU over one minute: sums of what the agent sampled, so batches that split a minute add up."""

    org = org_foreign_key(db_index=False)
    gpu = models.ForeignKey(Gpu, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    samples = models.IntegerField(default=0)
    covered_seconds = models.IntegerField(default=0)
    busy_seconds = models.IntegerField(
        default=0, help_text="Seconds sampled with utilisation at or above the idle threshold"
    )
    utilization_gpu_sum = models.IntegerField(default=0, help_text="Sum of sampled utilisation %; / samples = mean")
    memory_used_max_bytes = models.BigIntegerField(null=True, blank=True)
    power_mw_sum = models.BigIntegerField(null=True, blank=True)
    power_samples = models.IntegerField(default=0)
    energy_mj = models.BigIntegerField(
        null=True, blank=True, help_text="Energy counter deltas of its samples; power x interval where none"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gpu", "minute"], name="gpuminute_unique_gpu_minute")]
        indexes = [models.Index(fields=["org", "minute"], name="gpuminute_org_minute")]

    def __str__(self):
        return f"{self.gpu_id} {self.minute:%Y-%m-%d %H:%M}"


class ProcessMinute(OrgOwned):
    """One process on one GPU over one minute, with its attribution labels and its share of GPU time."""

    org = org_foreign_key(db_index=False)
    gpu = models.ForeignKey(Gpu, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    pid = models.IntegerField()
    process_name = models.CharField(max_length=255, blank=True)
    user = models.CharField(max_length=100, blank=True)
    container_id = models.CharField(max_length=100, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    customer = models.CharField(max_length=200, blank=True)
    feature = models.CharField(max_length=200, blank=True)
    job_id = models.CharField(max_length=200, blank=True)
    purpose = models.CharField(max_length=50, blank=True)
    owner = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=100, blank=True)
    samples = models.IntegerField(default=0)
    gpu_seconds = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    memory_max_bytes = models.BigIntegerField(null=True, blank=True)
    sm_util_sum = models.IntegerField(default=0)
    sm_util_samples = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gpu", "minute", "pid"], name="processminute_unique")]
        indexes = [models.Index(fields=["org", "minute"], name="processminute_org_minute")]

    def __str__(self):
        return f"{self.gpu_id} {self.minute:%H:%M} pid {self.pid}"


class GpuHour(OrgOwned):
    """Derived facts of one GPU over one hour (ingest/gpu_facts.py), recomputed when its minutes change."""

    org = org_foreign_key(db_index=False)
    gpu = models.ForeignKey(Gpu, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    covered_seconds = models.IntegerField(default=0)
    busy_seconds = models.IntegerField(default=0)
    idle_seconds = models.IntegerField(default=0)
    zombie_seconds = models.IntegerField(default=0, help_text="Idle while a process held memory at ~0% too long")
    unowned_seconds = models.IntegerField(default=0, help_text="No labelled process and no host owner")
    energy_mj = models.BigIntegerField(null=True, blank=True)
    gpu_seconds_by_label = models.JSONField(default=dict, blank=True, help_text="label key -> GPU-seconds (text)")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gpu", "hour"], name="gpuhour_unique_gpu_hour")]
        indexes = [models.Index(fields=["org", "hour"], name="gpuhour_org_hour")]

    def __str__(self):
        return f"{self.gpu_id} {self.hour:%Y-%m-%d %H}h"


class GpuResourceMark(OrgOwned):
    """A person's answer to "is this bill resource a GPU host?": it wins over detection from the bill's names."""

    resource_id = models.CharField(max_length=500, help_text="The bill lines' resource id (or name when no id)")
    is_gpu = models.BooleanField()
    marked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "resource_id"], name="gpuresourcemark_unique")]

    def __str__(self):
        return f"{self.resource_id}: {'GPU' if self.is_gpu else 'not a GPU'}"


class Connector(OrgOwnedWithCode):
    """An organisation's saved source that pulls files by itself: plug-in kind, plain settings, encrypted secrets
    and a daily schedule. Its files go through the same import as an upload (ingest/services/connectors.py)."""

    class Status(models.TextChoices):
        NEVER = "never", "Never run"
        OK = "ok", "OK"
        FAILED = "failed", "Failed"
        RUNNING = "running", "Running"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=40, help_text="The plug-in (ingest/connectors), e.g. aws_data_exports")
    config = models.JSONField(default=dict, blank=True, help_text="Plain settings; never a secret")
    secrets_encrypted = models.TextField(blank=True, help_text="Vault token of a JSON object of the secret fields")
    secret_hint = models.CharField(max_length=40, blank=True, help_text="e.g. the key's last four characters")
    enabled = models.BooleanField(default=True)
    schedule_hour = models.PositiveSmallIntegerField(default=6, help_text="Hour of the day (UTC) of the daily run")
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEVER)
    last_error = models.TextField(blank=True)
    last_fix = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="connector_unique_org_name")]
        indexes = [models.Index(fields=["enabled", "next_run_at"], name="connector_due")]

    def __str__(self):
        return f"{self.name} ({self.kind})"


class ConnectorRun(OrgOwned):
    """One pull of a connector: how many files it saw, imported, skipped as unchanged or saw rejected."""

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Run now"
        SCHEDULE = "schedule", "Schedule"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        OK = "ok", "OK"
        PARTIAL = "partial", "Some files rejected"
        FAILED = "failed", "Failed"

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    files_seen = models.IntegerField(default=0)
    files_imported = models.IntegerField(default=0)
    files_unchanged = models.IntegerField(default=0)
    files_failed = models.IntegerField(default=0)
    error = models.TextField(blank=True)
    fix = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["connector", "-started_at"], name="connectorrun_connector_start")]

    def __str__(self):
        return f"{self.connector_id} {self.started_at:%Y-%m-%d %H:%M} {self.status}"


class ConnectorFile(OrgOwned):
    """A remote file a connector has pulled, at the version it had: an unchanged version is not pulled again.

    A rejected file keeps its version too, so the same broken object is not re-imported every day; a new
    version of it is."""

    class Status(models.TextChoices):
        IMPORTED = "imported", "Imported"
        REJECTED = "rejected", "Rejected"

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="files")
    key = models.CharField(max_length=1024)
    version = models.CharField(max_length=200)
    upload = models.ForeignKey(Upload, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-imported_at"]
        constraints = [models.UniqueConstraint(fields=["connector", "key"], name="connectorfile_unique_key")]

    def __str__(self):
        return f"{self.key} @ {self.version}"
