from django.apps import AppConfig


class InvitesConfig(AppConfig):
    name = "studio.invites"
    verbose_name = "Invitation links"
