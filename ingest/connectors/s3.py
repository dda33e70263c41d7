"""S3 connectors: AWS Data Exports (CUR 2.0, FOCUS 1.x, legacy CUR) and any S3-compatible bucket.

AWS Data Exports delivers each billing period to `<prefix>/<export>/data/BILLING_PERIOD=YYYY-MM/` and
describes it in `<prefix>/<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json`, whose `dataFiles`
are the period's current files (legacy CUR: `<prefix>/<report>/YYYYMMDD-YYYYMMDD/<report>-Manifest.json` with
`reportKeys`). One billing period is one remote file here: its parts are joined into one upload, because the
importer replaces a whole period with each file it loads. Its version is a digest of the parts' ETags, so a
period AWS delivers again (a restatement, or the month still filling) is pulled again and replaces the old one.

An S3-compatible bucket (R2, MinIO, Backblaze B2, CoreWeave) is read object by object: every data file under
the prefix, its ETag as version.
"""

import json
import re
from contextlib import contextmanager
from urllib.parse import urlparse

from ingest.connectors.base import ConnectorError, ConnectorSource, Field, RemoteFile
from ingest.connectors.parts import Part, copy_stream, is_data_file, join_parts, joined_suffix, parts_version
from ingest.connectors.remote import endpoint_problem

POLICY_FIX = (
    "Give the access key or role s3:ListBucket on the bucket and s3:GetObject on the prefix "
    "(README: Connectors), then test the connection again."
)
THROTTLE_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "TooManyRequests", "RequestLimitExceeded"})
# Data Exports (BILLING_PERIOD=2024-01) and legacy CUR (20240101-20240201) period folders.
PERIOD = re.compile(r"(?:^|/)(?:BILLING_PERIOD=(\d{4}-\d{2})|(\d{4})(\d{2})01-\d{8})/")


def _boto_config(attempts: int, endpoint_url: str = ""):
    from botocore.config import Config

    # Standard retries back off on throttling (HTTP 429, SlowDown) and 5xx; timeouts keep a dead endpoint short.
    # Another storage than AWS (R2, MinIO, B2, Cloud Storage's XML API) is addressed by path and asked for the
    # checksums it needs only: botocore's default since 1.36 adds CRC headers several of them refuse.
    other = bool(endpoint_url)
    return Config(
        connect_timeout=10,
        read_timeout=60,
        retries={"mode": "standard", "max_attempts": attempts},
        s3={"addressing_style": "path" if other else "auto"},
        request_checksum_calculation="when_required" if other else "when_supported",
        response_checksum_validation="when_required" if other else "when_supported",
    )


def _where(bucket: str, prefix: str) -> str:
    return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"


def storage_error(exc: Exception, *, bucket: str, prefix: str = "", endpoint: str = "") -> ConnectorError:
    """A botocore failure as a ConnectorError saying what happened in plain words and what to change."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    where = _where(bucket, prefix)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "InvalidAccessKeyId" or code == "InvalidClientTokenId":
            return ConnectorError(
                "The access key ID is not known to the storage.",
                "Check the access key ID, or create a new key and enter it with its secret.",
            )
        if code == "SignatureDoesNotMatch":
            return ConnectorError(
                "The secret access key does not match the access key ID.",
                "Enter the secret access key again, copied whole (it is shown only when the key is created).",
            )
        if code in ("ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired"):
            return ConnectorError("The credentials have expired.", "Create a new access key and enter it.")
        if code == "NoSuchBucket" or (status == 404 and code in ("", "404", "NotFound")):
            return ConnectorError(
                f"The bucket {bucket!r} does not exist (or is not at this endpoint or region).",
                "Check the bucket name, the region and, for S3-compatible storage, the endpoint URL.",
            )
        if code in THROTTLE_CODES or status in (429, 503):
            return ConnectorError(
                f"The storage kept asking us to slow down (HTTP {status}, {code or 'no code'}) after every retry.",
                "Nothing to change here: the next run tries again. If it lasts, check the bucket's request limits.",
            )
        if code in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled") or status == 403:
            return ConnectorError(f"Access denied to {where}.", POLICY_FIX)
        return ConnectorError(
            f"The storage refused the request to {where}: {code or status} {error.get('Message', '')}".strip(),
            "Check the connector's settings; test the connection again after changing them.",
        )
    if isinstance(exc, NoCredentialsError):
        return ConnectorError("No credentials to sign in with.", "Enter an access key ID and its secret, or a role.")
    if isinstance(exc, EndpointConnectionError):
        return ConnectorError(
            f"Could not reach the storage at {endpoint or 'AWS'}.",
            "Check the endpoint URL and the region; if they are right, the storage may be down: the next run "
            "tries again.",
        )
    return ConnectorError(
        f"Reading {where} failed: {exc}", "Check the endpoint URL and the network; the next run tries again."
    )


class _S3Source(ConnectorSource):
    """What both S3 plug-ins share: the client, the paged listing and the download, with errors in plain words."""

    attempts = 5

    def _setting(self, name: str) -> str:
        return str(self.config.get(name) or "").strip()

    @property
    def bucket(self) -> str:
        return self._setting("bucket")

    @property
    def prefix(self) -> str:
        return self._setting("prefix").strip("/")

    def _fail(self, exc: Exception) -> ConnectorError:
        return storage_error(exc, bucket=self.bucket, prefix=self.prefix, endpoint=self._setting("endpoint_url"))

    def clean(self) -> None:
        problem = endpoint_problem(self._setting("endpoint_url")) if self._setting("endpoint_url") else None
        if problem:
            raise problem

    def _credentials(self) -> dict:
        key_id = self._setting("access_key_id")
        if not key_id:
            return {}
        return {"aws_access_key_id": key_id, "aws_secret_access_key": self.secrets.get("secret_access_key", "")}

    def _client(self):
        import boto3

        if not hasattr(self, "_s3"):
            self.clean()  # settings saved before a rule changed are checked again
            self._s3 = boto3.session.Session().client(
                "s3",
                region_name=self._setting("region") or "us-east-1",
                endpoint_url=self._setting("endpoint_url") or None,
                config=_boto_config(self.attempts, self._setting("endpoint_url")),
                **self._credentials(),
            )
        return self._s3

    def _objects(self) -> dict[str, Part]:
        """Every object under the prefix, by key."""
        from botocore.exceptions import BotoCoreError, ClientError

        prefix = f"{self.prefix}/" if self.prefix else ""
        objects, self._modified = {}, {}
        try:
            for page in self._client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    objects[item["Key"]] = Part(item["Key"], item.get("Size", 0), item.get("ETag", "").strip('"'))
                    self._modified[item["Key"]] = item["LastModified"]
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc) from exc
        self._all = objects
        return objects

    def _newness(self, key: str):
        """Sorts objects oldest first; of two written the same second, the shorter key (the top folder's copy) last."""
        return (self._modified[key], -len(key))

    def _download(self, bucket: str, key: str, into, etag: str = "") -> None:
        """The object's bytes into `into`; with the listing's `etag`, only that version (If-Match): an object
        rewritten between the listing and the read would be imported under the old version's name."""
        changed = ConnectorError(
            f"{key.rsplit('/', 1)[-1]} changed while it was being read.",
            "Nothing to do: the next run pulls the new version.",
        )
        with self._object_errors(bucket, key, {412: changed}):
            condition = {"IfMatch": f'"{etag}"'} if etag else {}
            copy_stream(self._client().get_object(Bucket=bucket, Key=key, **condition)["Body"], into)

    @contextmanager
    def _object_errors(self, bucket: str, key: str, by_status: dict[int, ConnectorError]):
        """Reading one object: a failure as a ConnectorError, the one `by_status` gives for its HTTP status first."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError) as exc:
            response = getattr(exc, "response", {})  # a ClientError's
            known = by_status.get(response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
            endpoint = self._setting("endpoint_url")
            raise known or storage_error(exc, bucket=bucket, prefix=key, endpoint=endpoint) from exc


class AwsDataExportsSource(_S3Source):
    kind = "aws_data_exports"
    label = "AWS Data Exports (S3)"
    assumes_role = True
    help = (
        "Create a CUR 2.0 or FOCUS 1.0 export in the AWS Billing console (Data Exports), delivered to an S3 bucket "
        "as gzip CSV or Parquet with 'overwrite existing export file'. Give an access key, or a role we assume, "
        "s3:ListBucket on the bucket and s3:GetObject on the export's prefix. Each billing period is pulled when "
        "its manifest names new files; a period AWS restates replaces the one pulled before."
    )
    fields = (
        Field("bucket", "Bucket", "The S3 bucket the export is delivered to"),
        Field("prefix", "Prefix", "The export's S3 path prefix, without the export name", required=False),
        Field("region", "Region", "The bucket's region", required=False, default="us-east-1"),
        Field("access_key_id", "Access key ID", "Leave blank to assume the role below", required=False),
        Field("secret_access_key", "Secret access key", "Stored encrypted; never shown again", False, True),
        Field(
            "role_arn",
            "Role ARN",
            "arn:aws:iam::123456789012:role/finops-read, assumed via STS with the external ID above",
            required=False,
        ),
        Field("endpoint_url", "Endpoint URL", "Leave blank for AWS", required=False),
    )

    def clean(self) -> None:
        super().clean()
        if not self._setting("access_key_id") and not self._setting("role_arn"):
            raise ConnectorError(
                "Give an access key or a role to assume.", "Enter an access key ID and its secret, or a role ARN."
            )
        if self._setting("access_key_id") and not self.secrets.get("secret_access_key"):
            raise ConnectorError("The access key has no secret.", "Enter the secret access key too.")

    def _credentials(self) -> dict:
        role = self._setting("role_arn")
        if not role:
            return super()._credentials()
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        # The key (if any) or the server's own AWS identity assumes the organisation's role.
        sts = boto3.session.Session().client(
            "sts",
            region_name=self._setting("region") or "us-east-1",
            endpoint_url=self._setting("endpoint_url") or None,
            config=_boto_config(self.attempts, self._setting("endpoint_url")),
            **super()._credentials(),
        )
        if not self.org_code:
            raise ConnectorError("A role is assumed only for its organisation.", "Save the connector first.")
        options = {
            "RoleArn": role,
            "RoleSessionName": "finops-connector",
            "ExternalId": self.external_id(self.org_code),
        }
        try:
            credentials = sts.assume_role(**options)["Credentials"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("AccessDenied", "AccessDeniedException"):
                raise ConnectorError(
                    f"The role {role} cannot be assumed.",
                    "Its trust policy must allow our AWS principal sts:AssumeRole with the condition "
                    f"sts:ExternalId = {self.external_id(self.org_code)}; check the role ARN.",
                ) from exc
            raise self._fail(exc) from exc
        except BotoCoreError as exc:
            raise self._fail(exc) from exc
        return {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }

    def _periods(self) -> list[tuple[str, str, Part]]:
        """(group, period YYYY-MM, newest manifest) for each export and billing period under the prefix."""
        newest: dict[str, tuple[str, Part]] = {}
        for key, part in self._objects().items():
            if not key.endswith("Manifest.json"):
                continue
            match = PERIOD.search(key)
            if match is None:
                continue
            period = match.group(1) or f"{match.group(2)}-{match.group(3)}"
            group = key[: match.end()]  # the export (or report) and its period folder
            # Legacy CUR keeps a copy in each assembly folder; create-new exports one per execution: newest wins.
            held = newest.get(group)
            if held is None or self._newness(key) > self._newness(held[1].name):
                newest[group] = (period, part)
        return sorted(((group, period, part) for group, (period, part) in newest.items()), key=lambda g: (g[1], g[0]))

    def _manifest_parts(self, manifest: Part) -> list[tuple[str, Part]]:
        """(bucket, part) of each data file the manifest names, with its ETag."""
        from io import BytesIO

        buffer = BytesIO()
        self._download(self.bucket, manifest.name, buffer)
        try:
            document = json.loads(buffer.getvalue())
            if "dataFiles" in document:
                locations = [urlparse(uri) for uri in document["dataFiles"]]
                files = [(url.netloc, url.path.lstrip("/")) for url in locations]
            else:
                files = [(document.get("bucket") or self.bucket, key) for key in document["reportKeys"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConnectorError(
                f"The manifest s3://{self.bucket}/{manifest.name} is not an AWS export manifest "
                "(no dataFiles or reportKeys).",
                "Point the prefix at the folder AWS delivers the export to; keep other files elsewhere.",
            ) from exc
        parts = []
        for bucket, key in files:
            part = self._all.get(key) if bucket == self.bucket else None
            if part is None:
                part = self._head(bucket, key)
            parts.append((bucket, part))
        return parts

    def _head(self, bucket: str, key: str) -> Part:
        missing = ConnectorError(
            f"The export's manifest names s3://{bucket}/{key}, which is not there.",
            "AWS may be delivering the export right now: the next run tries again.",
        )
        with self._object_errors(bucket, key, {404: missing}):
            head = self._client().head_object(Bucket=bucket, Key=key)
        return Part(key, head.get("ContentLength", 0), head.get("ETag", "").strip('"'))

    def list_files(self):
        periods = self._periods()
        if not periods:
            raise ConnectorError(
                f"No export files under {_where(self.bucket, self.prefix)}: no <export>-Manifest.json in a "
                "BILLING_PERIOD=YYYY-MM folder.",
                "Check that the bucket and prefix are the export's S3 delivery options (the prefix stops before "
                "the export name). A new export delivers its first files within 24 hours.",
            )
        self._parts = {}
        remotes = []
        for group, period, manifest in periods:
            located = self._manifest_parts(manifest)
            if not located:
                continue  # a period with no rows yet
            parts = [part for _, part in located]
            export = manifest.name.rsplit("/", 1)[-1].removesuffix("Manifest.json").rstrip("-") or "export"
            self._parts[group] = located
            remotes.append(
                RemoteFile(
                    key=group,
                    version=parts_version(parts),
                    kind="bill",
                    name=f"{export}-{period}{joined_suffix(parts) or '.csv.gz'}",
                    size=sum(part.size for part in parts),
                )
            )
        return remotes

    def check(self) -> str:
        periods = self._periods()
        if not periods:
            self.list_files()  # raises the empty-prefix error with its fix
        exports = sorted(
            {manifest.name.rsplit("/", 1)[-1].removesuffix("-Manifest.json") for _, _, manifest in periods}
        )
        first, last = periods[0][1], periods[-1][1]
        span = first if first == last else f"{first} to {last}"
        return (
            f"Connected to {_where(self.bucket, self.prefix)}: {len(periods)} billing period"
            f"{'s' * (len(periods) != 1)} ({span}) of {', '.join(exports)}."
        )

    def fetch(self, remote: RemoteFile, into) -> None:
        if remote.key not in getattr(self, "_parts", {}):
            self.list_files()
        located = self._parts.get(remote.key)
        if not located:
            raise ConnectorError(f"{remote.name} is no longer in the bucket.", "The next run pulls what is there.")
        buckets = {part.name: bucket for bucket, part in located}
        join_parts(
            [part for _, part in located],
            lambda part, handle: self._download(buckets[part.name], part.name, handle, part.etag),
            into,
        )


class S3CompatibleSource(_S3Source):
    kind = "s3_compatible"
    label = "S3-compatible bucket (R2, MinIO, Backblaze, CoreWeave)"
    help = (
        "For GPU clouds without a billing API: a bucket where their invoices land as FOCUS files or CSV. Every "
        "data file under the prefix (.csv, .csv.gz, .parquet, .json) is imported once, and again when it changes. "
        "Each file holds whole billing periods: a file of a period delivered again replaces it. Name a saved column "
        "mapping for a CSV the importer does not recognise (upload one file first to create the mapping)."
    )
    fields = (
        Field("endpoint_url", "Endpoint URL", "e.g. https://<account>.r2.cloudflarestorage.com"),
        Field("bucket", "Bucket", ""),
        Field("prefix", "Prefix", "Only files under this folder", required=False),
        Field("region", "Region", "Leave blank unless the storage asks for one", required=False),
        Field("access_key_id", "Access key ID", ""),
        Field("secret_access_key", "Secret access key", "Stored encrypted; never shown again", secret=True),
        Field("mapping", "Column mapping", "A saved mapping's name; blank to detect the format", required=False),
    )

    def _files(self) -> list[Part]:
        files = [part for key, part in self._objects().items() if is_data_file(key)]
        if not files:
            raise ConnectorError(
                f"No data files under {_where(self.bucket, self.prefix)} (.csv, .csv.gz, .parquet or .json).",
                "Check the bucket and the prefix; files of other types are not read.",
            )
        return files

    def check(self) -> str:
        files = self._files()
        return f"Connected to {_where(self.bucket, self.prefix)}: {len(files)} data file{'s' * (len(files) != 1)}."

    def list_files(self):
        return [
            RemoteFile(key=part.name, version=part.etag, kind="bill", name=part.name.rsplit("/", 1)[-1], size=part.size)
            for part in sorted(self._files(), key=lambda part: (self._modified[part.name], part.name))
        ]

    def fetch(self, remote: RemoteFile, into) -> None:
        self._download(self.bucket, remote.key, into, remote.version)
