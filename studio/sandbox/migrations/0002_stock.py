from django.db import migrations


def seed_stock(apps, schema_editor):
    # The data lives in studio/sandbox/stock.py so the post_migrate re-seed (after a flush) and
    # this migration can never disagree.
    from studio.sandbox import stock

    stock.seed(apps)


def remove_stock(apps, schema_editor):
    apps.get_model("sandbox", "Replica").objects.filter(replica_type="system").delete()
    apps.get_model("sandbox", "Persona").objects.filter(persona_type="system").delete()


class Migration(migrations.Migration):
    dependencies = [("sandbox", "0001_initial")]
    operations = [migrations.RunPython(seed_stock, remove_stock)]
