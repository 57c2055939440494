"""Invitations: the one-time link a new member follows to set a password.

Django's password-reset machinery does the work: the token is signed with the user's password hash and last login,
so it stops working once the password is set (works once), and it expires after PASSWORD_RESET_TIMEOUT. A salt of
its own keeps invitation and reset tokens apart. The mail goes through Django's email backend: the console (the
server's output) unless EMAIL_HOST is set.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import send_mail
from django.urls import reverse, reverse_lazy
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "eventhub.dashboard.invitations.InvitationTokenGenerator"


invitation_tokens = InvitationTokenGenerator()


def invitation_link(request, user):
    path = reverse("dashboard:accept-invitation", kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                                                          "token": invitation_tokens.make_token(user)})
    return request.build_absolute_uri(path)


def send_invitation(request, user, tenant, role_label):
    link = invitation_link(request, user)
    days = max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)
    send_mail(
        subject=f"You are invited to {tenant.name} on eventhub",
        message=(f"{request.user.get_username()} added you to the tenant {tenant.name} as {role_label}.\n\n"
                 f"Set your password here (the link works once and expires in {days} day{'s' if days > 1 else ''}):\n{link}\n\n"
                 f"Then log in as {user.get_username()}.\n"),
        from_email=None, recipient_list=[user.email],
    )


class AcceptInvitationView(auth_views.PasswordResetConfirmView):
    """Set a password from an invitation link; then log in with it."""

    template_name = "dashboard/accept_invitation.html"
    token_generator = invitation_tokens
    success_url = reverse_lazy("dashboard:login")
    reset_url_token = "set-password"

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, f"Password set. Log in as {form.user.get_username()}.")
        return response
