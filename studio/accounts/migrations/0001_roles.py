from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = ("Operator", "Supervisor", "Admin")


def create_roles(apps, schema_editor):
    # Permissions are normally made after all migrations; make auth's now so the Admin role can
    # manage users and roles in Django's admin.
    auth = apps.get_app_config("auth")
    auth.models_module = True
    create_permissions(auth, apps=apps, verbosity=0)
    auth.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name in ROLES:
        Group.objects.get_or_create(name=name)
    admin = Group.objects.get(name="Admin")
    admin.permissions.set(Permission.objects.filter(content_type__app_label="auth"))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
