"""E-mails that accounts sends; rendered from templates/accounts/email/."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from accounts.models import Invitation


def invitation_email_send(*, invitation: Invitation, raw_token: str) -> None:
    """Send the invitation link to the invited address."""
    from accounts.services import invitation_url

    context = {
        "invitation": invitation,
        "org": invitation.org,
        "url": invitation_url(raw_token),
        "inviter": invitation.invited_by.email if invitation.invited_by else "A teammate",
        "lifetime_days": settings.INVITATION_LIFETIME_DAYS,
    }
    send_mail(
        subject=f"You're invited to {invitation.org.name} on GPU FinOps",
        message=render_to_string("accounts/email/invitation.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[invitation.email],
    )
