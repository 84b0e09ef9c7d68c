"""ApiToken: one integrator credential of one user.

Only a SHA-256 digest of the secret is stored. That is the right hash here
(not a slow password hash such as PBKDF2/Argon2): the secret is 256 bits from
`secrets`, not something a person chose, so there is nothing to brute-force
and a fast digest costs nothing on every request. The prefix is stored in
clear to find the row and to let the owner recognise the token in lists.
"""
import uuid

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. “ERP export job”.")
    prefix = models.CharField(max_length=32, unique=True, help_text="Public part shown in lists; not secret.")
    secret_sha256 = models.CharField(max_length=64, help_text="Hex SHA-256 of the secret part.")
    # Optional: the token then acts only inside this organization.
    organization = models.ForeignKey(
        "tenancy.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="apitoken_user_created")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
