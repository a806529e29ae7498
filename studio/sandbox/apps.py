from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _reseed_stock(sender, **kwargs):
    # The data migration seeds Tavus's stock replicas and personas; `flush` (and every
    # transactional test) empties the tables and then sends post_migrate, so seed again here.
    from django.apps import apps

    from studio.sandbox import stock

    stock.seed(apps)


class SandboxConfig(AppConfig):
    name = "studio.sandbox"
    label = "sandbox"
    verbose_name = "Tavus sandbox"

    def ready(self):
        post_migrate.connect(_reseed_stock, sender=self, dispatch_uid="sandbox-reseed-stock")
