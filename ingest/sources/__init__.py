"""The source plug-ins, in detection order: the most specific header wins."""

from ingest.sources.focus import FocusSource

BILL_SOURCES = (FocusSource,)
SOURCES_BY_NAME = {source.name: source for source in BILL_SOURCES}


def detect_source(columns, kind: str = "bill"):
    """The first source class of `kind` whose detect() accepts the header, or None."""
    return next((s for s in BILL_SOURCES if s.kind == kind and s.detect(columns)), None)
