"""The one shape of a connector plug-in: a source that pulls files on its own, from a bucket or an API.

A connector is an organisation's saved, encrypted credentials plus a schedule (`ingest.models.Connector`).
Its plug-in knows only the remote side: how to check the credentials (`check`), which files are there
now (`list_files`, each with a version that changes when its content does) and how to read one
(`fetch`). The run service (`ingest/services/connectors.py`) owns everything else: which files are new
or changed, turning each into an Upload through the same import path as a file handed to us (so a
period delivered again replaces the old one and a bad file is rejected whole, with row and column),
recording the run, its errors with the fix, and the next run.

To add a connector: copy a sibling module and its test, add the class to `ingest/connectors/__init__.py`.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Any, ClassVar


@dataclass(frozen=True)
class Field:
    """One setting a connector asks for on its page. Secret fields are stored encrypted, never shown again."""

    name: str
    label: str
    help: str = ""
    required: bool = True
    secret: bool = False
    default: str = ""


@dataclass(frozen=True)
class RemoteFile:
    """One file the remote side holds now.

    `key` names it (an object key, or a report's day for an API); `version` changes whenever its content
    does (an ETag, or a hash of the API's answer); `kind` and `requested_format` say how to import it
    (Upload.Kind and a source name, '' to detect from the header); `name` is what the upload is called.
    """

    key: str
    version: str
    kind: str
    name: str
    size: int | None = None
    requested_format: str = ""


class ConnectorError(Exception):
    """The remote side refused or could not be read: what happened, and what the user should do about it."""

    def __init__(self, message: str, fix: str = ""):
        super().__init__(message)
        self.message = message
        self.fix = fix


class ConnectorSource:
    """A connector plug-in. `config` holds the plain settings, `secrets` the decrypted secret ones."""

    kind: ClassVar[str]  # stored on the Connector row; never renamed
    label: ClassVar[str]  # "AWS Data Exports (S3)"
    help: ClassVar[str]  # one paragraph for the create page: what to set up on the provider's side
    fields: ClassVar[tuple[Field, ...]]
    # How the files it pulls land: "bill" or "usage" (a connector may pull both; then RemoteFile.kind says).
    pulls: ClassVar[str] = "bill"

    # Whether it assumes a role in the organisation's account: then it always passes `external_id(org_code)`,
    # which the role's trust policy must require, so no other organisation here can have the role assumed for it
    # (the confused deputy): the forms show the value to put there.
    assumes_role: ClassVar[bool] = False
    # Templates are given the class itself (its label, help and fields): Django must not call it.
    do_not_call_in_templates: ClassVar[bool] = True

    def __init__(self, config: Mapping[str, Any], secrets: Mapping[str, str], *, org_code: str = ""):
        self.config = dict(config)
        self.secrets = dict(secrets)
        self.org_code = str(org_code)

    @staticmethod
    def external_id(org_code) -> str:
        """The external ID a role of this organisation's must require (sts:ExternalId): fixed per organisation."""
        return f"finops-{org_code}"

    def clean(self) -> None:
        """Settings that cannot work together (neither a key nor a role, say): ConnectorError, shown on the form
        before anything is saved. Optional; reaches nothing remote."""

    def check(self) -> str:
        """Reach the remote side with these credentials; a line saying what was found, or ConnectorError."""
        raise NotImplementedError

    def list_files(self) -> Iterable[RemoteFile]:
        """The files to import now, oldest first; ConnectorError when the listing is refused."""
        raise NotImplementedError

    def fetch(self, remote: RemoteFile, into: IO[bytes]) -> None:
        """Write the file's bytes into `into`; ConnectorError when it cannot be read."""
        raise NotImplementedError
