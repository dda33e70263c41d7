"""Where uploaded files are kept, from the environment: the `default` entry of Django's STORAGES.

Unset, the local disk under MEDIA_ROOT (the embedded default). `STORAGE_URL=s3://bucket/prefix?endpoint_url=...&region=...`
(or django-storages' own `AWS_STORAGE_BUCKET_NAME`, `AWS_LOCATION`, `AWS_S3_ENDPOINT_URL`, `AWS_S3_REGION_NAME`) puts
them in an S3-compatible bucket through django-storages, so web, worker and beat can run on different machines.
Credentials come from the URL's user:password, else `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, else boto3's own
chain (an instance or task role). No Django setting is read here: settings.py calls it once, tests call it directly.
"""

import re
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

LOCAL_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
S3_BACKEND = "storages.backends.s3.S3Storage"
# Query parameters of STORAGE_URL and the S3Storage option each sets.
QUERY_OPTIONS = {
    "endpoint_url": "endpoint_url",
    "region": "region_name",
    "region_name": "region_name",
    "addressing_style": "addressing_style",
}
# S3's rules for a bucket name (lower case letters, digits, dots, hyphens; 3 to 63 characters).
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# Reading a stored file through the storage (a re-import) spools it in memory up to this size, then on disk.
SPOOL_BYTES = 16 * 2**20


def default_storage_config(url: str, environ) -> dict:
    """The STORAGES["default"] entry for STORAGE_URL `url` (empty: the local disk), with credentials and the
    django-storages variables read from `environ` (a mapping, os.environ in settings); ImproperlyConfigured on a
    value that cannot work, naming the variable and what it should look like."""
    url = (url or "").strip()
    bucket_variable = (environ.get("AWS_STORAGE_BUCKET_NAME") or "").strip()
    if url and bucket_variable:
        raise ImproperlyConfigured("Set STORAGE_URL or AWS_STORAGE_BUCKET_NAME, not both: they name the same bucket.")
    if not url and not bucket_variable:
        return dict(LOCAL_STORAGE)
    if url:
        bucket, location, query, credentials = _parse_url(url)
    else:
        bucket, location, credentials = bucket_variable, (environ.get("AWS_LOCATION") or "").strip("/"), None
        query = {
            "endpoint_url": environ.get("AWS_S3_ENDPOINT_URL") or "",
            "region_name": environ.get("AWS_S3_REGION_NAME") or "",
            "addressing_style": environ.get("AWS_S3_ADDRESSING_STYLE") or "",
        }
    if not BUCKET_NAME.fullmatch(bucket):
        raise ImproperlyConfigured(
            f"Storage bucket {bucket!r} is not a valid S3 bucket name (3 to 63 lower case letters, digits, dots "
            "and hyphens). STORAGE_URL looks like s3://bucket/prefix?endpoint_url=http://minio:9000&region=us-east-1."
        )
    options = {
        "bucket_name": bucket,
        "location": location,
        "default_acl": None,  # the bucket's own policy: objects are never made public
        "file_overwrite": False,  # a second file of the same name gets a name of its own, as on disk
        "querystring_auth": True,
        "max_memory_size": SPOOL_BYTES,
    }
    endpoint = query.get("endpoint_url", "")
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ImproperlyConfigured(f"The storage endpoint_url {endpoint!r} must be an http:// or https:// URL.")
        options["endpoint_url"] = endpoint
        # MinIO and most S3-compatible servers answer on one host name: the bucket goes in the path.
        options["addressing_style"] = "path"
    if query.get("addressing_style"):
        if query["addressing_style"] not in ("path", "virtual", "auto"):
            raise ImproperlyConfigured("The storage addressing_style must be path, virtual or auto.")
        options["addressing_style"] = query["addressing_style"]
    if query.get("region_name"):
        options["region_name"] = query["region_name"]
    access_key, secret_key = credentials or (environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY"))
    if bool(access_key) != bool(secret_key):
        raise ImproperlyConfigured(
            "Storage credentials need both parts: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or user:password in "
            "STORAGE_URL), or neither to use the machine's role."
        )
    if access_key:
        options["access_key"], options["secret_key"] = access_key, secret_key
    return {"BACKEND": S3_BACKEND, "OPTIONS": options}


def _parse_url(url: str):
    example = "s3://bucket/prefix?endpoint_url=http://minio:9000&region=us-east-1"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ImproperlyConfigured(f"STORAGE_URL cannot be read ({exc}); it looks like {example}.") from exc
    if parts.scheme != "s3":
        raise ImproperlyConfigured(
            f"STORAGE_URL must start with s3:// (an S3-compatible bucket), not {parts.scheme or 'nothing'}://; "
            f"it looks like {example}. Leave it unset to keep uploads on the local disk."
        )
    userinfo, _, bucket = parts.netloc.rpartition("@")
    if not bucket:
        raise ImproperlyConfigured(f"STORAGE_URL names no bucket; it looks like {example}.")
    credentials = None
    if userinfo:
        user, colon, password = userinfo.partition(":")
        if not (user and colon and password):
            raise ImproperlyConfigured("STORAGE_URL's credentials must be access_key:secret_key (URL-encoded).")
        credentials = unquote(user), unquote(password)
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise ImproperlyConfigured(f"STORAGE_URL's query cannot be read ({exc}); it looks like {example}.") from exc
    query = {}
    for key, value in pairs:
        if key not in QUERY_OPTIONS:
            raise ImproperlyConfigured(
                f"STORAGE_URL has an unknown parameter {key!r}; known: {', '.join(sorted(QUERY_OPTIONS))}."
            )
        query[QUERY_OPTIONS[key]] = value.strip()
    return bucket, unquote(parts.path).strip("/"), query, credentials
