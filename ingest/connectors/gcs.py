"""Google Cloud billing export files in a Cloud Storage bucket, read through GCS's S3-compatible XML API.

Google Cloud exports billing data to BigQuery only; to reach us it goes on to Cloud Storage as files, by a
scheduled query (`EXPORT DATA OPTIONS (uri='gs://<bucket>/<folder>/<name>-*.csv', format='CSV', ...)`) or
`bq extract`, as CSV, JSON lines (newline-delimited JSON: nested records such as service.description and the
labels arrays, read by ingest/sources/gcp_billing.py) or Parquet, maybe gzip'd. BigQuery writes a large result
as shards, replacing the `*` with a 12-digit number (`billing-000000000000.csv`, `billing-000000000001.csv`):
the shards of one name in one folder are one delivery, joined into one upload (ingest/connectors/parts.py),
since each file the importer loads replaces its invoice months whole. A file without a shard number is a
delivery of its own. A delivery's version is its object's ETag (a digest of its shards' ETags), so a
scheduled export that writes the same names again replaces what it restates.

The S3 plug-ins' client, paged listing, download and error wording are reused (ingest/connectors/s3.py);
the credentials are a Cloud Storage HMAC key (access ID and secret) of a service account.
"""

import re

from ingest.connectors.base import ConnectorError, Field, RemoteFile
from ingest.connectors.parts import Part, is_data_file, join_parts, joined_suffix, parts_version, suffix
from ingest.connectors.s3 import POLICY_FIX, _S3Source

DEFAULT_ENDPOINT = "https://storage.googleapis.com"
# BigQuery replaces the URI's single `*` wildcard with a 12-digit, zero-padded shard number.
SHARD = re.compile(r"^(?P<stem>.*?)(?P<shard>\d{12})(?P<ext>(?:\.[A-Za-z0-9]+)*)$")
KEY_FIX = (
    "Check the HMAC key (Cloud Storage > Settings > Interoperability): it must be active, and its secret is the one "
    "shown once when it was created; create a new key if that is lost, and enter both."
)
VIEWER_FIX = (
    "Grant the HMAC key's service account the Storage Object Viewer role on the bucket (Cloud Storage > the bucket "
    "> Permissions), then test the connection again."
)


def _in_gcs_words(error: ConnectorError) -> ConnectorError:
    """The S3 plug-ins' wording of a refusal, with Cloud Storage's names for the key, the bucket and the role."""
    message = (
        re.sub(r"^The storage\b", "Cloud Storage", error.message)
        .replace("s3://", "gs://")
        .replace("access key ID", "HMAC access ID")
        .replace("secret access key", "HMAC secret")
    )
    if error.fix == POLICY_FIX:
        return ConnectorError(message, VIEWER_FIX)
    if "HMAC" in message or "credentials" in message.lower():
        return ConnectorError(message, KEY_FIX)
    return ConnectorError(message, error.fix.replace("the region and, for S3-compatible storage, ", ""))


def delivery_key(name: str) -> str:
    """The delivery an object belongs to: its name with a BigQuery shard number replaced by `*`."""
    folder, _, leaf = name.rpartition("/")
    match = SHARD.match(leaf)
    if match is None:
        return name
    shared = f"{match['stem']}*{match['ext']}"
    return f"{folder}/{shared}" if folder else shared


class GcsBillingExportSource(_S3Source):
    kind = "gcs_billing"
    label = "Google Cloud billing export (Cloud Storage)"
    help = (
        "Google Cloud exports billing to BigQuery; schedule a query there that exports it to a Cloud Storage "
        "bucket (EXPORT DATA, CSV, JSON or Parquet). Create an HMAC key for a service account that has Storage "
        "Object Viewer on the bucket (Cloud Storage > Settings > Interoperability) and give us its access ID and "
        "secret. Each file, or each set of numbered shards, holds whole invoice months: one written again "
        "replaces the months it holds."
    )
    fields = (
        Field("bucket", "Bucket", "The Cloud Storage bucket the export writes to (without gs://)"),
        Field("prefix", "Folder", "Only files under this folder", required=False),
        Field("access_key_id", "HMAC access ID", "Cloud Storage > Settings > Interoperability: GOOG1E…"),
        Field("secret_access_key", "HMAC secret", "Stored encrypted; never shown again", secret=True),
        Field(
            "endpoint_url",
            "Endpoint URL",
            f"Leave blank for Cloud Storage ({DEFAULT_ENDPOINT})",
            required=False,
            default=DEFAULT_ENDPOINT,
        ),
    )

    def _setting(self, name: str) -> str:
        value = super()._setting(name)
        if name == "endpoint_url":
            return value or DEFAULT_ENDPOINT
        if name == "region":
            return "auto"  # what Cloud Storage's XML API expects in a V4 signature
        return value

    @property
    def bucket(self) -> str:
        return self._setting("bucket").removeprefix("gs://").strip("/")

    def clean(self) -> None:
        super().clean()
        if not self.bucket:
            raise ConnectorError("No bucket is set.", "Enter the Cloud Storage bucket the export writes to.")
        if not self._setting("access_key_id") or not self.secrets.get("secret_access_key"):
            raise ConnectorError(
                "An HMAC key needs its access ID and its secret.",
                "Create an HMAC key for the service account (Cloud Storage > Settings > Interoperability) and "
                "enter both.",
            )

    def _fail(self, exc: Exception) -> ConnectorError:
        return _in_gcs_words(super()._fail(exc))

    def _download(self, bucket: str, key: str, into, etag: str = "") -> None:
        try:
            super()._download(bucket, key, into, etag)
        except ConnectorError as exc:
            raise _in_gcs_words(exc) from exc

    def _deliveries(self) -> list[tuple[str, list[Part]]]:
        """(delivery key, its parts in shard order) of every data file under the folder, oldest first."""
        groups: dict[str, list[Part]] = {}
        for name, part in self._objects().items():
            if name.endswith("/") or not is_data_file(name):
                continue
            groups.setdefault(delivery_key(name), []).append(part)
        ordered = []
        for key, parts in groups.items():
            parts.sort(key=lambda p: p.name)
            ordered.append((max(self._modified[p.name] for p in parts), key, parts))
        ordered.sort(key=lambda item: (item[0], item[1]))
        return [(key, parts) for _, key, parts in ordered]

    def check(self) -> str:
        deliveries = self._deliveries()
        where = f"gs://{self.bucket}/{self.prefix}".rstrip("/")
        if not deliveries:
            return (
                f"Connected to {where}: no export files there yet (.csv, .json, .jsonl or .parquet, maybe .gz). "
                "They appear after the scheduled query's first run."
            )
        files = sum(len(parts) for _, parts in deliveries)
        return (
            f"Connected to {where}: {len(deliveries)} export{'s' * (len(deliveries) != 1)} in {files} "
            f"file{'s' * (files != 1)}."
        )

    def list_files(self):
        self._parts = {}
        remotes = []
        for key, parts in self._deliveries():
            self._parts[key] = parts
            leaf = key.rsplit("/", 1)[-1]
            stem = leaf[: len(leaf) - len(suffix(leaf))].replace("*", "").rstrip("-_.") or "billing-export"
            remotes.append(
                RemoteFile(
                    key=key,
                    version=parts_version(parts),
                    kind="bill",
                    name=f"{stem}{joined_suffix(parts)}",
                    size=sum(part.size for part in parts),
                    requested_format="",
                )
            )
        return remotes

    def fetch(self, remote: RemoteFile, into) -> None:
        if remote.key not in getattr(self, "_parts", {}):
            self.list_files()
        parts = self._parts.get(remote.key)
        if not parts:
            raise ConnectorError(f"{remote.name} is no longer in the bucket.", "The next run pulls what is there.")
        if parts_version(parts) != remote.version:
            raise ConnectorError(f"{remote.name} was rewritten while we read it.", "The next run pulls it again.")
        join_parts(parts, lambda part, handle: self._download(self.bucket, part.name, handle, part.etag), into)
