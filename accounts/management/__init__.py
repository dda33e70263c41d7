from django.core.management.base import CommandError

from accounts.selectors import organization_for_code


def command_org(code):
    """The organisation a command's --org code names; CommandError when none has it."""
    organization = organization_for_code(code=code)
    if organization is None:
        raise CommandError(f"No organisation with code {code!r}.")
    return organization
