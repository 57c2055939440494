"""Writes that concern tenants and their access: tenants, members, API clients and tokens."""

import re
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application, set_token_value

from eventhub.conf import hub_setting
from tenants.models import ApiClient, Membership, Role, Tenant, validate_tenant_name
from tenants.scopes import SCOPES, unknown_scopes

CLI_CLIENT_NAME = "command line"
LANGUAGE_TAG_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")


def create_tenant(name, default_language="en", languages=()):
    """languages: the tenant's languages (Emporix's project languages); its default is always among them."""
    validate_tenant_name(name)
    if default_language not in hub_setting("LANGUAGES"):
        raise ValidationError(f"default language must be one of {', '.join(hub_setting('LANGUAGES'))}.")
    languages = list(dict.fromkeys(lang.strip().lower() for lang in languages if lang.strip()))
    bad = [lang for lang in languages if not LANGUAGE_TAG_RE.match(lang)]
    if bad:
        raise ValidationError(f"'{bad[0]}' is not a language code (e.g. de, fr-ch).")
    if languages and default_language not in languages:
        languages.insert(0, default_language)
    tenant, created = Tenant.objects.get_or_create(name=name, defaults={"default_language": default_language, "languages": languages})
    return tenant, created


def set_webhooks_limit(tenant, text):
    """The tenant's monthly webhooks limit from text: a whole number (0 or more), or 'none' for no limit."""
    if str(text).strip().lower() == "none":
        limit = None
    elif re.fullmatch(r"[0-9]{1,10}", str(text).strip()) and int(text) <= 2**31 - 1:
        limit = int(text)
    else:
        raise ValidationError("the webhooks limit is a whole number of webhooks per month, or 'none'.")
    tenant.webhooks_limit = limit
    tenant.save(update_fields=["webhooks_limit"])
    return tenant


def _check_scopes(scopes):
    scopes = list(dict.fromkeys(scopes))
    if not scopes:
        raise ValidationError("name at least one scope.")
    bad = unknown_scopes(scopes)
    if bad:
        raise ValidationError(f"unknown scope(s) {', '.join(bad)}; known scopes: {', '.join(sorted(SCOPES))}.")
    return scopes


@transaction.atomic
def create_api_client(tenant, scopes, name="API client"):
    """A client-credentials OAuth2 client; returns (client, client_id, client_secret). The secret is shown only here."""
    scopes = _check_scopes(scopes)
    plain_secret = generate_client_secret()
    application = Application.objects.create(
        name=f"{tenant.name}: {name}",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=plain_secret,  # hashed by django-oauth-toolkit on save
    )
    client = ApiClient.objects.create(application=application, tenant=tenant, allowed_scopes=" ".join(scopes))
    return client, application.client_id, plain_secret


@transaction.atomic
def issue_token(tenant, scopes, expires_in=None):
    """An access token for scripts, issued through the tenant's command-line client; returns the token string."""
    scopes = _check_scopes(scopes)
    client = ApiClient.objects.filter(tenant=tenant, application__name=f"{tenant.name}: {CLI_CLIENT_NAME}").first()
    if client is None:
        client, _, _ = create_api_client(tenant, list(SCOPES), name=CLI_CLIENT_NAME)
    token = secrets.token_urlsafe(32)
    access = AccessToken(
        application=client.application,
        scope=" ".join(scopes),
        expires=timezone.now() + timedelta(seconds=expires_in or hub_setting("CLI_TOKEN_EXPIRE_SECONDS")),
    )
    set_token_value(access, token)  # only a checksum is stored (RFC 9700): the token is shown here, once
    access.save()
    return token


def add_member(tenant, user, role=Role.VIEWER):
    membership, _ = Membership.objects.update_or_create(user=user, tenant=tenant, defaults={"role": role})
    return membership


class LastOwner(Exception):
    """The change would leave the tenant without an owner; the message says so."""


def change_membership(*, tenant, membership_id, role=None, remove=False) -> Membership:
    """Give a member another role, or remove them; never the tenant's last owner (LastOwner). Raises
    Membership.DoesNotExist for a member of another tenant. The tenant's owners are locked first, so two owners
    removing each other at once cannot both succeed."""
    with transaction.atomic():
        owners = set(Membership.objects.select_for_update().filter(tenant=tenant, role=Role.OWNER).values_list("pk", flat=True))
        member = Membership.objects.select_for_update().select_related("user").get(pk=membership_id, tenant=tenant)
        if owners == {member.pk} and (remove or role != Role.OWNER):
            raise LastOwner(f"{member.user.username} is the last owner of {tenant.name}; make someone else owner first.")
        if remove:
            member.delete()
        else:
            member.role = role
            member.save(update_fields=["role"])
    return member


def ensure_user(username, password=None, **extra):
    """Get or create a dashboard user; a password is set only when the user is new. Returns (user, created)."""
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user, False
    user = User.objects.create_user(username=username, password=password, **extra)
    return user, True


def find_user(who):
    """The user a username or an email address (case-insensitive) names, or None."""
    User = get_user_model()
    who = who.strip()
    return User.objects.filter(username=who).first() or (User.objects.filter(email__iexact=who).first() if "@" in who else None)


def invite_member(tenant, *, who, role):
    """Add a member by username or email address. An address nobody has yet becomes a new user without a password,
    who sets one through the invitation link. Returns (membership, invited): invited is True for a new user."""
    user = find_user(who)
    invited = user is None
    if invited:
        user = get_user_model().objects.create_user(username=who.strip(), email=who.strip())  # unusable password
    return add_member(tenant, user, role), invited
