"""Azure Cost Management exports in Blob Storage: actual and amortised cost (EA and MCA) and the FOCUS export.

Cost Management writes each run of an export under the folder it was given (the connector's path):

    <path>/<export name>/<YYYYMMDD-YYYYMMDD>/<run id>/part_0_0001.csv(.gz) or .parquet, and manifest.json
    <path>/<export name>/<YYYYMMDD-YYYYMMDD>/<timestamp>/<run id>/...        (overwrite turned off)
    <path>/<export name>/<YYYYMMDD-YYYYMMDD>/<export name>_<run id>.csv      (older exports, one file a run)

A daily export writes the month to date again every day, so a newer run of a date range restates it:
only the newest run of each date range is current. The newest run is the one written last; when any
run of the range has a manifest.json (the partitioned exports write it after their parts), a run without
one is still being written and waits for the next pull. A run's parts (listed in its manifest, else the
data files of its folder) are one delivery: the importer receives them as one file (parts.join_parts),
since each file it loads replaces its billing periods whole. One RemoteFile is one date range of one
export; its version is its blob's ETag (a digest of the parts' ETags when there are several).

The file's header says what it is: the Azure source (ingest/sources/azure_cost.py) tells EA from MCA and
actual from amortised, the FOCUS source takes the FOCUS export. Manifests that name another dataset
(price sheet, reservation details...) are skipped.
"""

import base64
import binascii
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import ip_address
from typing import IO
from urllib.parse import urlsplit

from ingest.connectors.base import ConnectorError, ConnectorSource, Field, RemoteFile
from ingest.connectors.parts import Part, is_data_file, join_parts, joined_suffix, parts_version
from ingest.connectors.remote import endpoint_problem, retry_after_seconds

DATE_RANGE = re.compile(r"^(\d{8})-(\d{8})$")
MANIFEST_NAMES = ("manifest.json", "_manifest.json")
MAX_MANIFEST_BYTES = 16 << 20
# exportConfig.type of the datasets that are cost and usage lines (the others are price sheets, reservations...).
COST_DATASETS = {"actualcost", "amortizedcost", "focuscost", "usage"}
TIMEOUTS = {"connection_timeout": 20, "read_timeout": 120}

CREDENTIAL_FIX = (
    "Create a SAS token on the container with the Read and List permissions and an expiry well ahead "
    "(Storage account > Containers > the container > Shared access tokens), or paste one of the storage "
    "account's access keys; then edit the connector and paste it."
)
_REEXPORT = "Run the export again in Cost Management (Exports > Run now); the new run is pulled by itself."


@dataclass
class _Run:
    """One run of an export for one date range: its data parts and manifest, and when it was last written."""

    folder: str
    parts: list = field(default_factory=list)
    manifest: str = ""
    written: datetime | None = None
    document: dict | None = None  # the manifest, once read ({} when unreadable)
    submitted: str = ""  # runInfo.submittedTime, read only to order runs written in the same second

    def saw(self, when: datetime | None) -> None:
        if when is not None and (self.written is None or when > self.written):
            self.written = when


def _retry_after(response, longest: float) -> float | None:
    """The seconds a response's Retry-After header asks us to wait, at most `longest`; None without one."""
    asked = retry_after_seconds(response.headers.get("Retry-After") if response is not None else None)
    return None if asked is None else min(asked, longest)


def _retry_policy(*, longest_wait: float, **settings):
    """The SDK's exponential retry (503 ServerBusy, 500, timeouts, refused connections), that also retries HTTP 429
    Too Many Requests (the SDK's is_retry leaves every 4xx alone, but gateways and throttled accounts send it) and
    waits what a Retry-After header asks, up to `longest_wait` seconds, instead of its own backoff."""
    from azure.core.pipeline.policies import RequestHistory
    from azure.storage.blob import ExponentialRetry

    class RetryThrottled(ExponentialRetry):
        def get_backoff_time(self, settings):
            history = settings.get("history") or []
            asked = _retry_after(history[-1].http_response, longest_wait) if history else None
            return super().get_backoff_time(settings) if asked is None else asked

        def send(self, request):
            # Each try goes through the SDK's loop (which retries the 5xx); a 429 it hands back is tried again
            # here, up to the same number of retries. The connector only lists and reads: no body to rewind.
            for count in range(self.total_retries + 1):
                response = super().send(request)
                if response.http_response.status_code != 429 or request.http_request.body is not None:
                    break
                if count == self.total_retries:
                    break
                history = [RequestHistory(request.http_request, http_response=response.http_response)]
                wait = self.get_backoff_time({"count": count, "history": history})
                if wait > 0:
                    request.context.transport.sleep(wait)
            return response

    return RetryThrottled(**settings)


def _account_name(url: str) -> str:
    """The storage account in an account URL: the first label of <account>.blob.core.windows.net, or the first
    path segment of an emulator's http://127.0.0.1:10000/<account>."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    segment = parts.path.strip("/").split("/")[0]
    try:
        ip_address(host)
        literal = True
    except ValueError:
        literal = host == "localhost"
    return segment if literal and segment else host.split(".")[0]


def _sas_token(value: str) -> str:
    """The SAS token in what was pasted (a token, '?'+token, or a whole SAS URL), or '' when it is not one."""
    query = urlsplit(value).query if value.lower().startswith(("https://", "http://")) else value.lstrip("?")
    return query if "sig=" in query else ""


class AzureCostExportsSource(ConnectorSource):
    kind = "azure_blob"
    label = "Azure Cost Management exports (Blob Storage)"
    help = (
        "In the Azure portal, Cost Management > Exports > Create: choose 'Cost and usage details' (actual, "
        "amortized or FOCUS), daily or monthly, CSV (gzip or none) or Parquet, into a storage account's "
        "container and directory. Then give us the account URL, the container, that directory, and a SAS token "
        "on the container with Read and List permissions (or the account's access key)."
    )
    # Throttling (503 ServerBusy, 429) and server errors are retried after about 1, 3 and 5 s (initial_backoff, then
    # initial_backoff + increment_base ** n, give or take random_jitter_range) or what Retry-After asks, up to
    # longest_wait; an address that refuses connections is tried twice (the SDK's default waits 15 s and more).
    retries = 3
    initial_backoff = 1
    increment_base = 2
    random_jitter_range = 1
    longest_wait = 30
    fields = (
        Field("account_url", "Storage account URL", "https://<account>.blob.core.windows.net"),
        Field("container", "Container", "The container the export writes to, e.g. cost-exports."),
        Field(
            "path",
            "Directory",
            "The export's directory path in the container (blank: the whole container). "
            "Every export found under it is pulled.",
            required=False,
        ),
        Field(
            "credential",
            "SAS token or account key",
            "A SAS token on the container with Read and List permissions (or the SAS URL), or an access key.",
            secret=True,
        ),
    )

    def __init__(self, config, secrets, **context):
        super().__init__(config, secrets, **context)
        self._deliveries: dict[str, list[Part]] = {}

    # -- the remote side ------------------------------------------------------------------------------------

    def _url(self) -> str:
        url = str(self.config.get("account_url") or "").strip().rstrip("/")
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("https", "http") or not urlsplit(url).hostname:
            raise ConnectorError(
                f"The storage account URL {url[:80]!r} is not a URL.",
                "Edit the connector: the account URL looks like https://<account>.blob.core.windows.net.",
            )
        problem = endpoint_problem(url)  # not the server's own network (a metadata service, the database)
        if problem:
            raise problem
        return url

    def _prefix(self) -> str:
        path = str(self.config.get("path") or "").strip().strip("/")
        return f"{path}/" if path else ""

    def _container_name(self) -> str:
        container = str(self.config.get("container") or "").strip().strip("/")
        if not container:
            raise ConnectorError("No container is set.", "Edit the connector and enter the export's container.")
        return container

    def _credential(self):
        """AzureSasCredential for a SAS token (or SAS URL), AzureNamedKeyCredential for an account key."""
        from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential

        secret = str(self.secrets.get("credential") or "").strip()
        token = _sas_token(secret)
        if token:
            return AzureSasCredential(token)
        try:
            key_bytes = base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            key_bytes = b""
        if not key_bytes:
            raise ConnectorError(
                "The credential is neither a SAS token (it has no sig=) nor a storage account key (base64).",
                CREDENTIAL_FIX,
            )
        return AzureNamedKeyCredential(_account_name(self._url()), secret)

    def _container(self):
        from azure.storage.blob import ContainerClient

        retry = _retry_policy(
            longest_wait=self.longest_wait,
            initial_backoff=self.initial_backoff,
            increment_base=self.increment_base,
            random_jitter_range=self.random_jitter_range,
            retry_total=self.retries,
            retry_connect=1,
        )
        return ContainerClient(
            account_url=self._url(),
            container_name=self._container_name(),
            credential=self._credential(),
            retry_policy=retry,
            **TIMEOUTS,
        )

    def clean(self) -> None:
        self._url()
        self._container_name()
        self._credential()

    def _refused(self, exc: Exception, client) -> ConnectorError:
        """What Azure's answer means for the person setting up the connector."""
        from azure.core.exceptions import HttpResponseError, ResourceModifiedError, ServiceRequestError

        where = f"container {client.container_name!r} of {client.url.split('?')[0].rsplit('/', 1)[0]}"
        if isinstance(exc, ServiceRequestError):
            return ConnectorError(
                f"Could not reach the storage account at {self._url()} ({str(exc).splitlines()[0][:160]}).",
                "Check the storage account URL (https://<account>.blob.core.windows.net) and that the account "
                "allows access from the internet, or from our servers' addresses.",
            )
        if isinstance(exc, ResourceModifiedError):
            return ConnectorError(
                "The export was rewritten while we read it.", "Nothing was imported from it; it is pulled again."
            )
        if not isinstance(exc, HttpResponseError):
            return ConnectorError(f"Azure Blob Storage could not be read ({str(exc)[:200]}).", CREDENTIAL_FIX)
        code = str(getattr(exc.error_code, "value", exc.error_code) or "")  # StorageErrorCode.SERVER_BUSY: ServerBusy
        status = exc.status_code
        if status == 404 or code in ("ContainerNotFound", "BlobNotFound", "ResourceNotFound"):
            if code == "BlobNotFound":
                return ConnectorError("A file of the export was deleted while we read it.", _REEXPORT)
            return ConnectorError(
                f"There is no {where}.",
                "Check the container's name (Storage account > Containers) and edit the connector.",
            )
        if code == "AuthorizationPermissionMismatch" or code == "AuthorizationResourceTypeMismatch":
            return ConnectorError(
                f"The SAS token may not list or read the {where}: it lacks the Read or List permission, or it "
                "is not a token for this container.",
                CREDENTIAL_FIX,
            )
        if status in (401, 403) or code.startswith("Authentication") or code.startswith("Authorization"):
            return ConnectorError(
                f"Azure refused the credential for the {where} ({code or status}): the account key is wrong, "
                "or the SAS token has expired, was revoked or was signed for another account.",
                CREDENTIAL_FIX,
            )
        message = str(exc.message or exc).splitlines()[0][:200]
        if status in (429, 500, 502, 503, 504) or code in ("ServerBusy", "OperationTimedOut", "InternalError"):
            return ConnectorError(
                f"Azure Blob Storage stayed busy after every retry ({status} {code}) for the {where}.",
                "Nothing to change here: the next run tries again.",
            )
        return ConnectorError(f"Azure Blob Storage answered {status} for the {where}: {message}", CREDENTIAL_FIX)

    def _blobs(self, client):
        from azure.core.exceptions import AzureError

        try:
            return list(client.list_blobs(name_starts_with=self._prefix() or None))
        except AzureError as exc:
            raise self._refused(exc, client) from exc

    def _manifest(self, client, name: str) -> dict | None:
        from azure.core.exceptions import AzureError

        try:
            downloader = client.download_blob(name)
            if (downloader.size or 0) > MAX_MANIFEST_BYTES:
                return None
            document = json.loads(downloader.readall())
        except AzureError as exc:
            raise self._refused(exc, client) from exc
        except ValueError:
            return None  # unreadable: the run folder's data files stand in for its list
        return document if isinstance(document, dict) else None

    # -- which files are current ----------------------------------------------------------------------------

    def _runs(self, blobs) -> dict[tuple[str, str], dict[str, _Run]]:
        """(export folder, date range) -> run folder -> _Run, of every blob under the path."""
        prefix = self._prefix()
        placed = []
        flat_runs = set()  # date range folders holding a manifest themselves: their files are one run
        for blob in blobs:
            segments = blob.name[len(prefix) :].split("/")
            at = next((i for i, s in enumerate(segments[:-1]) if DATE_RANGE.match(s)), None)
            if at is None:
                continue
            placed.append((blob, segments, at))
            if at == len(segments) - 2 and segments[-1].lower() in MANIFEST_NAMES:
                flat_runs.add("/".join(segments[: at + 1]))
        found: dict[tuple[str, str], dict[str, _Run]] = defaultdict(dict)
        for blob, segments, at in placed:
            leaf = segments[-1]
            range_folder = "/".join(segments[: at + 1])
            run_path = segments[at + 1 : -1]
            if not run_path and range_folder not in flat_runs:
                run_path = [leaf]  # an older export writes one file per run into the date range's folder
            folder = "/".join([range_folder, *run_path])
            runs = found[(prefix + "/".join(segments[:at])).rstrip("/"), segments[at]]
            run = runs.setdefault(folder, _Run(folder=prefix + folder))
            if leaf.lower() in MANIFEST_NAMES:
                run.manifest = blob.name
            elif is_data_file(leaf):
                run.parts.append(Part(name=blob.name, size=blob.size or 0, etag=str(blob.etag or "")))
            else:
                continue
            run.saw(blob.last_modified)
        return found

    def _document(self, client, run: _Run) -> dict | None:
        if run.document is None and run.manifest:
            run.document = self._manifest(client, run.manifest) or {}
        return run.document or None

    def _newest_first(self, client, candidates: list[_Run]) -> list[_Run]:
        """Runs by when they were written, newest first. Blob times have whole seconds: runs written in the same
        second are ordered by their manifests' runInfo.submittedTime."""
        latest = max((run.written or datetime.min for run in candidates), default=None)
        tied = [run for run in candidates if (run.written or datetime.min) == latest and run.manifest]
        if len(tied) > 1:
            for run in tied:
                run_info = (self._document(client, run) or {}).get("runInfo") or {}
                run.submitted = str(run_info.get("submittedTime") or "") if isinstance(run_info, dict) else ""
        return sorted(candidates, key=lambda r: (r.written or datetime.min, r.submitted, r.folder), reverse=True)

    def _current(self, client, runs: dict[str, _Run]) -> list[Part] | None:
        """The parts of the newest complete run, or None when it is no cost dataset or has no data yet."""
        candidates = [run for run in runs.values() if run.parts]
        if any(run.manifest for run in runs.values()):
            candidates = [run for run in candidates if run.manifest]  # the others are being written
        for run in self._newest_first(client, candidates):
            manifest = self._document(client, run)
            if manifest is None:
                return sorted(run.parts, key=lambda p: p.name)
            dataset = str((manifest.get("exportConfig") or {}).get("type") or "").lower()
            if dataset and dataset not in COST_DATASETS:
                return None
            listed = _listed(manifest, run)
            if listed is None:
                return sorted(run.parts, key=lambda p: p.name)
            if listed:
                return listed
            # A manifest naming parts we cannot see: that run is incomplete; an older one stays current.
        return None

    def _deliveries_now(self) -> list[tuple[str, str, list[Part]]]:
        client = self._container()
        with client:
            found = self._runs(self._blobs(client))
            current = []
            for (export, date_range), runs in found.items():
                parts = self._current(client, runs)
                if parts:
                    current.append((export, date_range, parts))
        current.sort(key=lambda item: (item[1], item[0]))
        return current

    # -- the plug-in --------------------------------------------------------------------------------------------

    def check(self) -> str:
        deliveries = self._deliveries_now()
        where = f"{self.config.get('container')}/{self._prefix()}"
        if not deliveries:
            return (
                f"Reached {where}: no cost export there yet. Exports write into <directory>/<export name>/"
                "<date range>/; the first run of a new export can take a few hours."
            )
        exports = sorted({export for export, _, _ in deliveries})
        newest = max(date_range for _, date_range, _ in deliveries)
        return (
            f"Reached {where}: {len(deliveries)} period{'s' * (len(deliveries) != 1)} of "
            f"{len(exports)} export{'s' * (len(exports) != 1)} ({', '.join(e.rsplit('/', 1)[-1] for e in exports)}),"
            f" the latest {newest}."
        )

    def list_files(self):
        remotes = []
        for export, date_range, parts in self._deliveries_now():
            key = f"{export}/{date_range}" if export else date_range
            self._deliveries[key] = parts
            name = f"{(export.rsplit('/', 1)[-1] or 'export')}_{date_range}{joined_suffix(parts)}"
            remotes.append(
                RemoteFile(
                    key=key,
                    version=parts_version(parts),
                    kind="bill",
                    name=name,
                    size=sum(p.size for p in parts),
                )
            )
        return remotes

    def fetch(self, remote: RemoteFile, into: IO[bytes]) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import AzureError

        if remote.key not in self._deliveries:
            self.list_files()
        parts = self._deliveries.get(remote.key)
        if not parts or parts_version(parts) != remote.version:
            raise ConnectorError("The export was rewritten while we read it.", "It is pulled again at the next run.")
        client = self._container()

        def read(part: Part, handle: IO[bytes]) -> None:
            try:
                client.download_blob(
                    part.name, etag=part.etag, match_condition=MatchConditions.IfNotModified, max_concurrency=2
                ).readinto(handle)
            except AzureError as exc:
                raise self._refused(exc, client) from exc

        with client:
            join_parts(parts, read, into)


def _listed(manifest: dict, run: _Run) -> list[Part] | None:
    """The parts the manifest lists, in its order (names are the container's full names, or relative to the run
    folder); None when it lists none (a manifest without a list); [] when one of them is not there yet."""
    blobs = manifest.get("blobs")
    if not isinstance(blobs, list) or not blobs:
        return None
    present = {part.name: part for part in run.parts}
    by_leaf = {part.name.rsplit("/", 1)[-1]: part for part in run.parts}  # one run folder: leaves are unique
    listed = []
    for item in blobs:
        name = str(item.get("blobName") or "") if isinstance(item, dict) else ""
        part = present.get(name.lstrip("/")) or (by_leaf.get(name.rsplit("/", 1)[-1]) if name else None)
        if part is None:
            return []
        if part not in listed:
            listed.append(part)
    return listed
