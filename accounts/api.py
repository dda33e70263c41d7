from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts import selectors, services
from accounts.models import ApiKey
from accounts.serializers import AgentTokenCreatedOutput, AgentTokenInput, AgentTokenOutput, ApiKeyOutput, WhoAmIOutput
from accounts.tenancy import OrgAPIView


class WhoAmIApi(OrgAPIView):
    """The API root: which organisation this request acts for, and how it authenticated."""

    @extend_schema(responses=WhoAmIOutput)
    def get(self, request):
        auth = request.auth
        if isinstance(auth, ApiKey):
            how = {"kind": "api_key", "scope": auth.scope, "prefix": auth.prefix, "name": auth.name}
        else:
            how = {"kind": "session", "user": request.user.email, "role": self.org.membership.role}
        links = {
            "schema": request.build_absolute_uri(reverse("api-schema")),
            "api_keys": request.build_absolute_uri(reverse("accounts-api-key-list-api")),
            "agent_tokens": request.build_absolute_uri(reverse("accounts-agent-token-list-api")),
        }
        return Response(WhoAmIOutput({"org": self.org, "auth": how, "links": links}).data)


class ApiKeyListApi(OrgAPIView):
    """The organisation's API keys (never their secrets)."""

    def org_queryset(self):
        return selectors.api_key_list(org=self.org)

    @extend_schema(responses=ApiKeyOutput(many=True))
    def get(self, request):
        return Response(ApiKeyOutput(self.get_queryset(), many=True).data)


class TokenRevokeApi(OrgAPIView):
    """Revoke one token of `org_queryset()`, which a subclass names; it stops working at once."""

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, code):
        token = get_object_or_404(self.get_queryset(), code=code)
        services.token_revoke(org=self.org, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiKeyRevokeApi(TokenRevokeApi):
    """Revoke one API key of the organisation; it stops working at once."""

    def org_queryset(self):
        return selectors.api_key_list(org=self.org)


class AgentTokenListApi(OrgAPIView):
    """List the organisation's agent tokens, or create one for a GPU host (its secret shown once)."""

    def org_queryset(self):
        return selectors.agent_token_list(org=self.org)

    @extend_schema(responses=AgentTokenOutput(many=True))
    def get(self, request):
        return Response(AgentTokenOutput(self.get_queryset(), many=True).data)

    @extend_schema(request=AgentTokenInput, responses={201: AgentTokenCreatedOutput})
    def post(self, request):
        data = AgentTokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        created_by = request.user if not isinstance(request.auth, ApiKey) else request.auth.created_by
        token, raw = services.agent_token_create(
            org=self.org, host_name=data.validated_data["host"], created_by=created_by
        )
        token.token = raw
        response = Response(AgentTokenCreatedOutput(token).data, status=status.HTTP_201_CREATED)
        add_never_cache_headers(response)  # the secret is in this response alone: nothing keeps a copy
        return response


class AgentTokenRevokeApi(TokenRevokeApi):
    """Revoke one agent token; the host's pushes are refused from then on."""

    def org_queryset(self):
        return selectors.agent_token_list(org=self.org)
