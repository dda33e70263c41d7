"""The API's OpenAPI generator (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS): drf-spectacular's, with the error responses
that every endpoint really gives declared beside the ones its view declares (tests/test_fuzz_api.py holds each
response to the schema, status codes included).

Every operation: 401 (no token, a wrong one, or a token of the other kind), 404 (`?org=` naming another
organisation; for a `{code}` path, an object that is not the organisation's), 429 (the rate limit). Writes: 403
(a read-only key, a viewer). With a body or query parameters: 400 with the fields at fault; with a body: 415.
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = ("POST", "PUT", "PATCH")  # drf-spectacular gives no other method a request body


class ErrorOutput(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong")


BAD_REQUEST = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description='Invalid: each field at fault with its messages (`{"field": ["why"]}`), or `detail` for a body '
    "that cannot be parsed",
)
ERRORS = {
    "401": OpenApiResponse(ErrorOutput, description="No token, an unknown or revoked one, or the wrong kind"),
    "403": OpenApiResponse(ErrorOutput, description="A read-only API key or a viewer asking to write"),
    "404": OpenApiResponse(ErrorOutput, description="No such object in this organisation, or `?org=` names another"),
    "415": OpenApiResponse(ErrorOutput, description="A body in a media type this endpoint does not read"),
    "429": OpenApiResponse(ErrorOutput, description="Past the rate limit; `Retry-After` says when to try again"),
}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, adding the error responses of the API's base view (accounts.tenancy)."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        has_body = self.method in BODY_METHODS and self.get_request_serializer() is not None
        errors = {code: ERRORS[code] for code in ("401", "404", "429")}
        if self.method in WRITE_METHODS:
            errors["403"] = ERRORS["403"]
        if has_body:
            errors["415"] = ERRORS["415"]
        if has_body or self.get_override_parameters():
            errors["400"] = BAD_REQUEST
        for code, response in sorted(errors.items()):
            responses.setdefault(code, self._get_response_for_code(response, code, direction=direction))
        return responses
