"""`Authorization: Bearer <token>` for the REST API: API keys (fk_...) and agent tokens (fa_...)."""

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed


class TokenPrincipal:
    """`request.user` for a token request: the organisation acting through one key, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = id = None

    def __init__(self, token):
        self.token = token
        self.org = token.org

    def __str__(self):
        return f"token {self.token.prefix}… of {self.org}"


class BearerTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        # Imported here: DRF loads this class while accounts.models is still importing.
        from accounts.selectors import token_for_secret
        from accounts.services import token_touch

        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Malformed Authorization header; use 'Bearer <token>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise AuthenticationFailed("Malformed token.") from exc
        token = token_for_secret(raw)
        if token is None:
            raise AuthenticationFailed("Invalid or revoked token.")
        token_touch(token=token)
        return TokenPrincipal(token), token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
