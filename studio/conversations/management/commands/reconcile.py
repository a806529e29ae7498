from django.core.management.base import BaseCommand

from studio.conversations.reconcile import reconcile


class Command(BaseCommand):
    help = "Run one reconciler pass now (the server also runs it every RECONCILE_INTERVAL s)."

    def handle(self, **options):
        looked_at = reconcile()
        if looked_at < 0:
            self.stdout.write("Another studio process is reconciling right now; nothing done.")
        else:
            self.stdout.write(f"Reconciled {looked_at} running conversation(s) with Tavus.")
