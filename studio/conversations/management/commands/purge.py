from django.core.management.base import BaseCommand

from studio.conversations.retention import purge


class Command(BaseCommand):
    help = (
        "Delete transcripts, captions and events of conversations older than their preset's "
        "retention (presets without one are kept). The reconciler also runs this once a day."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--hard-delete-at-tavus",
            action="store_true",
            help="Also hard-delete each purged conversation (and its assets) at Tavus.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only say what would be removed."
        )

    def handle(self, *, hard_delete_at_tavus, dry_run, **options):
        summary = purge(hard=hard_delete_at_tavus, dry_run=dry_run)
        self.stdout.write(str(summary))
