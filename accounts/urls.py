from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views
from accounts.forms import LoginForm

auth_urls = [
    path("signup/", views.signup, name="accounts-signup"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html", authentication_form=LoginForm, redirect_authenticated_user=True
        ),
        name="accounts-login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="accounts-logout"),
    path(
        "password-reset/",
        views.PasswordResetView.as_view(
            template_name="accounts/password_reset.html",
            email_template_name="accounts/email/password_reset.txt",
            subject_template_name="accounts/email/password_reset_subject.txt",
            success_url="/accounts/password-reset/sent/",
        ),
        name="accounts-password-reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_sent.html"),
        name="accounts-password-reset-sent",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html", success_url="/accounts/password-reset/complete/"
        ),
        name="accounts-password-reset-confirm",
    ),
    path(
        "password-reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="accounts-password-reset-complete",
    ),
    path("orgs/new/", views.org_create, name="accounts-org-create"),
    path("invite/<str:token>/", views.invitation, name="accounts-invitation"),
    path("digest/unsubscribe/<str:token>/", views.digest_unsubscribe, name="accounts-digest-unsubscribe"),
]

org_urls = [
    path("settings/", views.org_settings, name="accounts-org-settings"),
    path("settings/notifications/", views.notifications, name="accounts-notifications"),
    path("settings/members/", views.members, name="accounts-members"),
    path("settings/members/<uuid:code>/role/", views.member_role, name="accounts-member-role"),
    path("settings/members/<uuid:code>/remove/", views.member_remove, name="accounts-member-remove"),
    path("settings/invitations/<uuid:code>/revoke/", views.invitation_revoke, name="accounts-invitation-revoke"),
    path("settings/api-keys/", views.api_keys, name="accounts-api-keys"),
    path("settings/api-keys/<uuid:code>/revoke/", views.api_key_revoke, name="accounts-api-key-revoke"),
    path("settings/agent-tokens/", views.agent_tokens, name="accounts-agent-tokens"),
    path("settings/agent-tokens/<uuid:code>/revoke/", views.agent_token_revoke, name="accounts-agent-token-revoke"),
]
