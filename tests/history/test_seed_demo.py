from django.core.management import call_command

from studio.conversations import search
from studio.conversations.models import Conversation, Event, Utterance
from tests.history.conftest import indexed


def test_it_seeds_searchable_varied_history(db, capsys):
    call_command("seed_demo", "--conversations", "120", "--utterances-per", "10", "--batch", "50")
    assert "Seeded 120 conversations" in capsys.readouterr().out
    assert Conversation.objects.count() == 120
    lines = Utterance.objects.count()
    assert 1100 < lines < 1300  # 10 per conversation on average
    assert Event.objects.exists()
    statuses = set(Conversation.objects.values_list("status", flat=True))
    assert {"ended", "failed"} <= statuses
    assert Conversation.objects.filter(transcript__isnull=False).exists()
    assert Conversation.objects.filter(recording__isnull=False).exists()
    # Plausible, varied text: many distinct lines, and the index was filled without signals.
    assert Utterance.objects.values("text").distinct().count() > lines // 3
    with_captions = Conversation.objects.filter(utterances__isnull=False).distinct().count()
    assert search.search(Conversation.objects.all(), "thanks").count() > 0
    assert indexed() == with_captions


def test_it_is_repeatable_with_a_seed(db):
    call_command("seed_demo", "--conversations", "5", "--seed", "3")
    first = list(Utterance.objects.order_by("pk").values_list("text", flat=True))
    Conversation.objects.all().delete()
    call_command("seed_demo", "--conversations", "5", "--seed", "3")
    assert list(Utterance.objects.order_by("pk").values_list("text", flat=True)) == first
