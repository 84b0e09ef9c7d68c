"""Support console for operations: worker heartbeats (read-only) and
django-celery-beat's periodic tasks, their actions for staff who may change them."""
from django.contrib import admin
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import PeriodicTask

from taxpoynt.audit.admin import change_permission_required

from .models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("queue", "hostname", "last_seen", "beats")
    readonly_fields = ("queue", "hostname", "last_seen", "beats")

    def has_add_permission(self, request):
        return False


admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    # Enabling, disabling or running a schedule (every connection's delta sync is one).
    enable_tasks = change_permission_required(beat_admin.PeriodicTaskAdmin.enable_tasks)
    disable_tasks = change_permission_required(beat_admin.PeriodicTaskAdmin.disable_tasks)
    toggle_tasks = change_permission_required(beat_admin.PeriodicTaskAdmin.toggle_tasks)
    run_tasks = change_permission_required(beat_admin.PeriodicTaskAdmin.run_tasks)
