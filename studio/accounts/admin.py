from django.contrib import admin

from studio.accounts.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_name", "action", "target", "ip")
    list_filter = ("action",)
    search_fields = ("actor_name", "target", "detail")
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False  # the log is written by the studio, never by hand

    def has_change_permission(self, request, obj=None):
        return False
