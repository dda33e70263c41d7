from celery import shared_task

from accounts import services
from accounts.models import Invitation
from accounts.notifications import invitation_email_send


@shared_task(acks_late=True)
def send_invitation_email(invitation_id: int, raw_token: str) -> None:
    invitation = Invitation.objects.select_related("org", "invited_by").filter(pk=invitation_id).first()
    if invitation is not None and invitation.accepted_at is None:
        invitation_email_send(invitation=invitation, raw_token=raw_token)


@shared_task
def invitations_purge() -> int:
    return services.invitations_purge()
