"""The one JSON parser of the API (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES) and of the Stripe webhook.

DRF's own parser turns malformed JSON into a 400 but lets Python's RecursionError through, so a body of 100,000
nested brackets was a 500 on every JSON endpoint. Too deep is malformed: a 400 like any other parse error.
"""

import io

from rest_framework import parsers
from rest_framework.exceptions import ParseError

TOO_DEEP = "JSON parse error - the document is nested too deeply."


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser (strict: no NaN or Infinity), with too-deep nesting a ParseError (400)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - the body is not UTF-8: {exc.reason}.") from None


def json_parse(body: bytes):
    """A request body parsed by the API's parser (for views outside DRF); ParseError when it is not JSON."""
    return JSONParser().parse(io.BytesIO(body), "application/json", {})
