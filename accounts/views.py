from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services, throttles
from accounts.forms import (
    AgentTokenForm,
    ApiKeyForm,
    DigestPreferenceForm,
    InvitationForm,
    MembershipRoleForm,
    OrganizationForm,
    SignupForm,
)
from accounts.models import AgentToken, ApiKey, Invitation, Membership
from accounts.tenancy import get_org_for_user


def _safe_next(request, fallback):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


def signup(request):
    if request.user.is_authenticated:
        return redirect("finops-home")
    # Every attempt counts, valid or not, so the form cannot be used to probe which e-mails have accounts.
    wait = throttles.signup_wait(request) if request.method == "POST" else None
    if wait is not None:
        return _signup_throttled(request, wait)
    form = SignupForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    if request.method == "POST" and form.is_valid():
        user, _ = services.user_get_or_create(email=form.cleaned_data["email"], password=form.cleaned_data["password"])
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(_safe_next(request, reverse("accounts-org-create")))
    return render(request, "accounts/signup.html", {"form": form, "next": request.GET.get("next", "")})


def _signup_throttled(request, wait):
    minutes = max(1, -(-wait // 60))
    context = {
        "form": SignupForm(initial={"email": request.POST.get("email", "")}),
        "next": request.POST.get("next", ""),
        "throttled": f"Too many sign-up attempts from your network. Try again in {minutes} minute"
        f"{'s' if minutes != 1 else ''}.",
    }
    response = render(request, "accounts/signup.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset, counted per address and per e-mail: past either limit the same "sent" page answers and
    nothing is sent, so the page never tells whether an account exists or whether a limit was hit."""

    def form_valid(self, form):
        if not throttles.password_reset_allowed(self.request, form.cleaned_data["email"]):
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


@login_required
def org_create(request):
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        org = services.org_create(
            name=form.cleaned_data["name"],
            owner=request.user,
            currency=form.cleaned_data["currency"],
            timezone_name=form.cleaned_data["timezone"],
        )
        messages.success(request, f"{org.name} is ready. Start by connecting a source.")
        return redirect("finops-founder-table", org_code=org.code)
    return render(request, "accounts/org_create.html", {"form": form})


def invitation(request, token):
    invitation = selectors.invitation_for_token(raw_token=token)
    if invitation is None:
        return render(
            request, "accounts/invitation.html", {"problem": "This invitation link is not valid."}, status=404
        )
    context = {"invitation": invitation, "token": token}
    status = 200
    if invitation.accepted_at is not None:
        context["problem"], status = "This invitation has already been used.", 410
    elif invitation.is_expired:
        context["problem"], status = "This invitation has expired. Ask the person who invited you for a new one.", 410
    if request.method == "POST" and request.user.is_authenticated and "problem" not in context:
        try:
            membership = services.invitation_accept(invitation=invitation, user=request.user)
        except ValidationError as exc:
            context["problem"], status = exc.messages[0], 403
        else:
            messages.success(request, f"Welcome to {membership.org.name}.")
            return redirect("finops-founder-table", org_code=membership.org.code)
    return render(request, "accounts/invitation.html", context, status=status)


@login_required
def org_settings(request, org_code):
    org = get_org_for_user(request, org_code, owner=request.method == "POST")
    form = OrganizationForm(
        request.POST or None, initial={"name": org.name, "currency": org.currency, "timezone": org.timezone}
    )
    if request.method == "POST" and form.is_valid():
        services.org_update(
            org=org,
            name=form.cleaned_data["name"],
            currency=form.cleaned_data["currency"],
            timezone_name=form.cleaned_data["timezone"],
        )
        messages.success(request, "Settings saved.")
        return redirect("accounts-org-settings", org_code=org.code)
    return render(request, "accounts/org_settings.html", {"org": org, "form": form, "tab": "general"})


@login_required
def notifications(request, org_code):
    # The digest is the member's own setting, not an organisation write: viewers may change theirs too.
    org = get_org_for_user(request, org_code)
    posted = request.POST if request.method == "POST" else None  # an unticked box posts nothing at all
    form = DigestPreferenceForm(posted, initial={"weekly_digest": org.membership.weekly_digest})
    if request.method == "POST" and form.is_valid():
        wanted = form.cleaned_data["weekly_digest"]
        services.membership_digest_set(org=org, membership=org.membership, weekly_digest=wanted)
        messages.success(request, "You will get the weekly digest." if wanted else "No more weekly digests.")
        return redirect("accounts-notifications", org_code=org.code)
    return render(request, "accounts/notifications.html", {"org": org, "form": form, "tab": "notifications"})


# The signed link is the credential, no login needed. GET only asks (link scanners open links), POST switches
# the digest off; mail clients' one-click unsubscribe (RFC 8058) POSTs without a CSRF token.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def digest_unsubscribe(request, token):
    membership = selectors.membership_for_unsubscribe_token(token=token)
    if membership is None:
        problem = "This unsubscribe link is not valid. Switch the digest off in Settings → Notifications instead."
        return render(request, "accounts/digest_unsubscribe.html", {"problem": problem}, status=404)
    done = request.method == "POST"
    if done:
        services.membership_digest_set(org=membership.org, membership=membership, weekly_digest=False)
    return render(request, "accounts/digest_unsubscribe.html", {"membership": membership, "done": done})


@login_required
def members(request, org_code):
    org = get_org_for_user(request, org_code, owner=request.method == "POST")
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation, _ = services.invitation_create(
                org=org, email=form.cleaned_data["email"], role=form.cleaned_data["role"], invited_by=request.user
            )
        except ValidationError as exc:
            form.add_error("email", exc)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("accounts-members", org_code=org.code)
    context = {
        "org": org,
        "form": form,
        "tab": "members",
        "members": selectors.membership_list(org=org),
        "invitations": selectors.invitation_list_pending(org=org),
        "roles": MembershipRoleForm.base_fields["role"].choices,
    }
    return render(request, "accounts/members.html", context)


@login_required
@require_POST
def member_role(request, org_code, code):
    org = get_org_for_user(request, org_code, owner=True)
    membership = get_object_or_404(Membership, org=org, code=code)
    form = MembershipRoleForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Pick a valid role.")
        services.membership_role_update(org=org, membership=membership, role=form.cleaned_data["role"])
        messages.success(request, f"{membership.user.email} is now {form.cleaned_data['role']}.")
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    return redirect("accounts-members", org_code=org.code)


@login_required
@require_POST
def member_remove(request, org_code, code):
    org = get_org_for_user(request, org_code, owner=True)
    membership = get_object_or_404(Membership, org=org, code=code)
    try:
        services.membership_remove(org=org, membership=membership)
        messages.success(request, f"{membership.user.email} was removed.")
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    if membership.user == request.user:
        return redirect("finops-home")
    return redirect("accounts-members", org_code=org.code)


@login_required
@require_POST
def invitation_revoke(request, org_code, code):
    org = get_org_for_user(request, org_code, owner=True)
    invitation = get_object_or_404(Invitation, org=org, code=code)
    services.invitation_revoke(org=org, invitation=invitation)
    messages.success(request, f"Invitation for {invitation.email} withdrawn.")
    return redirect("accounts-members", org_code=org.code)


def _secret_page(request, org_code, *, form_class, create, template, tab, listing):
    """A page that lists an org's keys or tokens and creates one, showing its secret once."""
    org = get_org_for_user(request, org_code, write=request.method == "POST")
    form = form_class(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        secret_holder, raw = create(org, form.cleaned_data)
        created = {"object": secret_holder, "raw": raw}
        form = form_class()
    context = {"org": org, "form": form, "tab": tab, "created": created, **listing(org)}
    response = render(request, template, context, status=201 if created else 200)
    if created:  # the secret is in this page alone: no browser or proxy keeps a copy
        add_never_cache_headers(response)
    return response


def _secret_revoke(request, org_code, code, *, model, page, describe):
    org = get_org_for_user(request, org_code, write=True)
    secret_holder = get_object_or_404(model, org=org, code=code)
    services.token_revoke(org=org, token=secret_holder)
    messages.success(request, f"{describe(secret_holder)} revoked.")
    return redirect(page, org_code=org.code)


@login_required
def api_keys(request, org_code):
    return _secret_page(
        request,
        org_code,
        form_class=ApiKeyForm,
        create=lambda org, data: services.api_key_create(
            org=org, name=data["name"], scope=data["scope"], created_by=request.user
        ),
        template="accounts/api_keys.html",
        tab="api-keys",
        listing=lambda org: {"keys": selectors.api_key_list(org=org)},
    )


@login_required
@require_POST
def api_key_revoke(request, org_code, code):
    return _secret_revoke(
        request, org_code, code, model=ApiKey, page="accounts-api-keys", describe=lambda k: f"API key “{k.name}”"
    )


@login_required
def agent_tokens(request, org_code):
    return _secret_page(
        request,
        org_code,
        form_class=AgentTokenForm,
        create=lambda org, data: services.agent_token_create(
            org=org, host_name=data["host_name"], created_by=request.user
        ),
        template="accounts/agent_tokens.html",
        tab="agent-tokens",
        listing=lambda org: {
            "tokens": selectors.agent_token_list(org=org),
            "server_url": request.build_absolute_uri("/").rstrip("/"),
        },
    )


@login_required
@require_POST
def agent_token_revoke(request, org_code, code):
    return _secret_revoke(
        request,
        org_code,
        code,
        model=AgentToken,
        page="accounts-agent-tokens",
        describe=lambda t: f"Agent token for {t.host_name}",
    )
