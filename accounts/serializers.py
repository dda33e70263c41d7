from rest_framework import serializers

from accounts.models import AgentToken, ApiKey, Organization


class OrganizationOutput(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["code", "name", "currency", "timezone", "created_at"]


class WhoAmIOutput(serializers.Serializer):
    org = OrganizationOutput()
    auth = serializers.DictField(help_text="How this request authenticated: kind, scope, key prefix or user")
    links = serializers.DictField(child=serializers.CharField())


class ApiKeyOutput(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email", default=None, allow_null=True,
                                        help_text="null when no person made it (a management command)")  # fmt: skip
    active = serializers.BooleanField(source="is_active")

    class Meta:
        model = ApiKey
        fields = ["code", "name", "scope", "prefix", "created_by", "created_at", "last_used_at", "revoked_at", "active"]


class AgentTokenInput(serializers.Serializer):
    host = serializers.CharField(max_length=255)


class AgentTokenOutput(serializers.ModelSerializer):
    host = serializers.CharField(source="host_name")
    created_by = serializers.EmailField(source="created_by.email", default=None, allow_null=True,
                                        help_text="null when no person made it (a management command)")  # fmt: skip
    active = serializers.BooleanField(source="is_active")

    class Meta:
        model = AgentToken
        fields = ["code", "host", "prefix", "created_by", "created_at", "last_used_at", "revoked_at", "active"]


class AgentTokenCreatedOutput(AgentTokenOutput):
    token = serializers.CharField(help_text="Shown once; store it on the host now")

    class Meta(AgentTokenOutput.Meta):
        fields = [*AgentTokenOutput.Meta.fields, "token"]
