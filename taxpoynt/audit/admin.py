"""The audited admin base class every ModelAdmin in the project uses, and the
read-only AuditLog admin."""
from django.contrib import admin

from taxpoynt.tenancy.selectors import scope_for_admin

from .models import AuditLog
from .services import audit_log_record, snapshot


def change_permission_required(action):
    """A third-party admin's action, offered only to staff allowed to change the
    model: actions that declare no permission run for anyone who can view it."""
    def run(modeladmin, request, queryset):
        return action(modeladmin, request, queryset)

    run.__name__ = action.__name__
    return admin.action(description=action.short_description, permissions=["change"])(run)


class AuditedModelAdmin(admin.ModelAdmin):
    """Writes an AuditLog row (before/after) for every add, change and delete,
    and scopes non-superuser staff to their organizations.

    `org_field` is the path to the owning Organization (None: not tenant data).
    """

    org_field = "organization"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if self.org_field is None:
            return qs
        return scope_for_admin(qs, user=request.user, org_field=self.org_field)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # A dropdown of tenant rows offers only those of the organizations the
        # staff user may see, like the changelist (no other tenant's names).
        org_field = self._org_field_of(db_field.related_model)
        if org_field is not None and "queryset" not in kwargs:
            queryset = self.get_field_queryset(kwargs.get("using"), db_field, request)
            if queryset is None:
                queryset = db_field.related_model._default_manager.using(kwargs.get("using"))
            kwargs["queryset"] = scope_for_admin(queryset, user=request.user, org_field=org_field)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _org_field_of(self, model):
        """The path from `model` to its Organization, as its own admin scopes it
        (None: not tenant data)."""
        if not self.admin_site.is_registered(model):
            return None
        related_admin = self.admin_site.get_model_admin(model)
        return related_admin.org_field if isinstance(related_admin, AuditedModelAdmin) else None

    def save_model(self, request, obj, form, change):
        before = None
        if change and obj.pk:
            previous = type(obj).objects.filter(pk=obj.pk).first()
            before = snapshot(previous)
        super().save_model(request, obj, form, change)
        audit_log_record(
            actor=request.user, source=AuditLog.Source.ADMIN, action="change" if change else "add",
            instance=obj, before=before, after=snapshot(obj),
        )

    def delete_model(self, request, obj):
        before = snapshot(obj)
        audit_log_record(actor=request.user, source=AuditLog.Source.ADMIN, action="delete", instance=obj,
                         before=before)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit_log_record(actor=request.user, source=AuditLog.Source.ADMIN, action="delete", instance=obj,
                             before=snapshot(obj))
        super().delete_queryset(request, queryset)

    def audit_action(self, request, obj, action, *, before=None, after=None):
        """For custom admin actions (re-sync, replay, retry …)."""
        return audit_log_record(actor=request.user, source=AuditLog.Source.ADMIN, action=action,
                                instance=obj, before=before, after=after)


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("at", "actor", "source", "action", "object_type", "object_id", "organization")
    list_filter = ("source", "action", "object_type")
    search_fields = ("object_id", "object_repr", "actor__email", "organization__name")
    date_hierarchy = "at"

    def get_queryset(self, request):
        return scope_for_admin(super().get_queryset(request), user=request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
