"""Writing audit entries, and the snapshot used for before/after."""
from django.core.serializers.json import DjangoJSONEncoder
from django.forms.models import model_to_dict
import json

from .models import AuditLog

# Field names whose values never reach the audit log (credentials, keys).
SECRET_FIELD_MARKERS = ("secret", "token", "password", "credential", "crypto_keys", "api_key", "private")


def is_secret_field(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_FIELD_MARKERS)


def snapshot(instance) -> dict:
    """A JSON-safe dict of the instance's concrete fields, secrets masked."""
    if instance is None:
        return None
    data = {}
    for field in instance._meta.concrete_fields:
        name = field.attname
        value = getattr(instance, name)
        if is_secret_field(field.name):
            data[field.name] = "***" if value else ""
        elif isinstance(value, (bytes, memoryview)):
            data[field.name] = f"<{len(bytes(value))} bytes>"
        else:
            data[field.name] = value
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def organization_of(instance):
    """The Organization an object belongs to, if any (for scoping the log)."""
    from taxpoynt.tenancy.models import Organization

    if instance is None:
        return None
    if isinstance(instance, Organization):
        return instance
    org_id = getattr(instance, "organization_id", None)
    if org_id:
        return Organization(pk=org_id)
    for parent in ("invoice", "connection", "submission"):
        related = getattr(instance, parent, None)
        if related is not None:
            return organization_of(related)
    return None


def audit_log_record(*, actor, source: str, action: str, instance=None, object_type=None, object_id=None,
                     before=None, after=None, organization=None) -> AuditLog:
    if instance is not None:
        object_type = object_type or instance._meta.label
        object_id = object_id or str(instance.pk)
        organization = organization or organization_of(instance)
    return AuditLog.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        organization=organization,
        source=source,
        action=action,
        object_type=object_type or "",
        object_id=str(object_id or ""),
        object_repr=str(instance)[:200] if instance is not None else "",
        before=before,
        after=after,
    )
