from django.db import migrations


def scrub(apps, schema_editor):
    # Webhooks stored before payloads were redacted kept Tavus's echo of the callback URL, whose
    # path is the conversation's webhook secret.
    from studio.lib.logs import redact

    Event = apps.get_model("conversations", "Event")
    for event in Event.objects.filter(source="webhook", payload__has_key="webhook_url").iterator():
        url = event.payload.get("webhook_url")
        if isinstance(url, str) and redact(url) != url:
            event.payload["webhook_url"] = redact(url)
            event.save(update_fields=["payload"])


class Migration(migrations.Migration):
    dependencies = [("conversations", "0007_end_received_at")]
    operations = [migrations.RunPython(scrub, migrations.RunPython.noop)]
