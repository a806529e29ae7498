from django.apps import AppConfig
from django.db.models.signals import post_save


def audit_preset(sender, instance, created, raw=False, **kwargs):
    """Every preset change lands in the audit log, attributed to whoever saved it last."""
    if raw:
        return
    from studio.accounts.models import audit

    action = "preset created" if created else "preset changed"
    audit(action, user=instance.updated_by, target=instance.name, detail=f"preset {instance.pk}")


class PresetsConfig(AppConfig):
    name = "studio.presets"
    label = "presets"

    def ready(self):
        post_save.connect(audit_preset, sender="presets.Preset", dispatch_uid="audit-preset")
