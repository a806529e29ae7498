"""Seed plausible history fast: many conversations with varied captions and transcripts.

For demos and for bench/history.py (100,000 conversations × 20 lines = 2,000,000 captions).
Everything goes in with bulk_create in batches; bulk_create sends no signals, so the search
index is filled here directly.
"""

import random
import secrets
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from studio.accounts.roles import OPERATOR, SUPERVISOR
from studio.conversations import search, usage
from studio.conversations.models import Conversation, Event, Utterance
from studio.presets.models import Preset

PERSONAS = [
    ("p9a95912", "Interview coach"),
    ("pcb7a34da", "Customer support trainee"),
    ("p2fbd605", "Sales discovery partner"),
    ("p48fdf065", "Onboarding guide"),
    ("p5d11710", "Language tutor"),
    ("p7e4a3bd", "Patient intake nurse"),
]
REPLICAS = [
    ("r79e1c033f", "Anna"),
    ("rb17cf590e", "Charlie"),
    ("r1a4e22fa0", "Mia"),
    ("r3fbe3834a", "Lucas"),
    ("r6ae5b6efc", "Nora"),
]
PRESETS = [
    "Interview practice",
    "Tricky customer call",
    "Discovery call",
    "First day tour",
    "Spanish small talk",
    "Intake rehearsal",
    "Board pitch drill",
]
TOPICS = [
    "pricing",
    "the onboarding plan",
    "the refund policy",
    "our roadmap",
    "the contract",
    "team structure",
    "the quarterly report",
    "shipping delays",
    "data privacy",
    "the pilot project",
    "customer churn",
    "the new dashboard",
    "vacation policy",
    "security review",
    "the migration",
    "invoice errors",
    "the hiring process",
]
THINGS = [
    "Zephyr",
    "Aurora",
    "Nimbus",
    "Quasar",
    "Helios",
    "Orion",
    "Atlas",
    "Juniper",
    "Sequoia",
    "Mistral",
    "Cobalt",
    "Lumen",
    "Polaris",
    "Tundra",
    "Vesper",
]
PEOPLE = [
    "Priya",
    "Marcus",
    "Elena",
    "Tomasz",
    "Aisha",
    "Kenji",
    "Fatima",
    "Oliver",
    "Ines",
    "Dmitri",
    "Grace",
    "Mateo",
    "Yara",
    "Henrik",
    "Leila",
    "Samuel",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "next week", "tomorrow"]
USER_LINES = [
    "Hi, thanks for making time today.",
    "Can you walk me through {topic}?",
    "I was hoping to talk about {topic} before {day}.",
    "Honestly, {topic} has been confusing for our team.",
    "What happens if the {thing} rollout slips by {n} weeks?",
    "{person} asked me to follow up on {topic}.",
    "We tried {thing} last year and it didn't stick.",
    "How long would it take to get {n} people trained on {thing}?",
    "That makes sense, but what about {topic}?",
    "I'm worried about the budget, we only have {n} thousand left.",
    "Could you repeat the part about {topic}?",
    "My manager {person} wants a summary by {day}.",
    "Is there a way to pause {thing} without losing data?",
    "Okay, I think I understand {topic} now.",
    "We have a meeting with {person} on {day} about {thing}.",
    "Why did the {thing} numbers drop last quarter?",
    "Sorry, the connection cut out for a second.",
    "Can we come back to {topic} at the end?",
    "What would you do in my position?",
    "Great, that's really helpful, thank you.",
]
REPLICA_LINES = [
    "Hello! It's good to see you. What would you like to focus on today?",
    "Of course. {topic} comes down to three things: timing, cost and ownership.",
    "That's a fair concern. Many teams find {topic} tricky at first.",
    "If {thing} slips by {n} weeks, the main risk is the handover to {person}'s team.",
    "Let's take {topic} one step at a time.",
    "A good first step is to write down what success looks like by {day}.",
    "Training {n} people on {thing} usually takes about two sessions each.",
    "I hear you. Budget pressure changes which option makes sense.",
    "Sure. In short, {topic} affects everyone who touches the account.",
    "You could ask {person} which part of {topic} matters most to them.",
    "Pausing {thing} keeps your data; only the schedule stops.",
    "Great question. The {thing} numbers usually dip after a pricing change.",
    "No problem, take your time.",
    "Let's come back to {topic} before we wrap up.",
    "In your position I'd start with the smallest change that proves the idea.",
    "Would it help if I summarised what we've covered so far?",
    "You've clearly thought about {topic} a lot already.",
    "To recap: {thing} first, then {topic}, then a check-in on {day}.",
    "That sounds like a plan. Anything else on your mind?",
    "Thanks for the conversation today. Good luck with {thing}!",
]
SYSTEM_PROMPT = (
    "You are {persona}, a warm, concise conversation partner for staff practice. "
    "Keep answers under three sentences and ask one question at a time."
)
REASONS = (
    ["participant_left_timeout"] * 6
    + ["end_conversation_endpoint_hit"] * 3
    + ["max_call_duration", "participant_absent_timeout"]
)


def _fill(rng: random.Random, template: str) -> str:
    return template.format(
        topic=rng.choice(TOPICS),
        thing=rng.choice(THINGS),
        person=rng.choice(PEOPLE),
        day=rng.choice(DAYS),
        n=rng.randint(2, 40),
    )


class Command(BaseCommand):
    help = "Seed demo history fast: N conversations with captions, transcripts and events."

    def add_arguments(self, parser):
        parser.add_argument("--conversations", type=int, default=1000)
        parser.add_argument(
            "--utterances-per",
            type=int,
            default=20,
            help="Caption lines per conversation, on average.",
        )
        parser.add_argument("--days", type=int, default=365, help="Spread over this many days.")
        parser.add_argument("--batch", type=int, default=2000, help="Conversations per batch.")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *, conversations, utterances_per, days, batch, seed, **options):
        if conversations < 0 or utterances_per < 0 or batch < 1:
            raise CommandError("Counts must be positive.")
        rng = random.Random(seed)
        users = self._users()
        presets = self._presets()
        now = timezone.now()
        started = time.monotonic()
        totals = {"conversations": 0, "utterances": 0}
        for first in range(0, conversations, batch):
            size = min(batch, conversations - first)
            with transaction.atomic():
                self._batch(rng, size, users, presets, now, days, utterances_per, totals)
            if options["verbosity"] > 1 or (first // batch) % 10 == 9:
                self.stdout.write(
                    f"  {totals['conversations']:,} conversations, "
                    f"{totals['utterances']:,} captions "
                    f"({time.monotonic() - started:.0f} s)"
                )
        self.stdout.write(
            f"Seeded {totals['conversations']:,} conversations and {totals['utterances']:,} "
            f"caption lines in {time.monotonic() - started:.1f} s."
        )

    def _users(self):
        """Existing staff, plus a few demo operators when there are hardly any."""
        User = get_user_model()
        users = list(User.objects.filter(groups__name__in=[OPERATOR, SUPERVISOR]).distinct())
        if len(users) < 3:
            operators = Group.objects.get(name=OPERATOR)
            for name in ("demo-olivia", "demo-oscar", "demo-omar"):
                user, created = User.objects.get_or_create(username=name)
                if created:
                    user.set_unusable_password()
                    user.save()
                    user.groups.add(operators)
                users.append(user)
        return users

    def _presets(self):
        found = [(p, p.name) for p in Preset._base_manager.all()[:20]]
        return found or [(None, name) for name in PRESETS]

    def _batch(self, rng, size, users, presets, now, days, per, totals):
        rows = []
        for _ in range(size):
            created = now - timedelta(seconds=rng.randint(600, days * 86400))
            persona_id, persona = rng.choice(PERSONAS)
            replica_id, replica = rng.choice(REPLICAS)
            preset, preset_name = rng.choice(presets)
            roll = rng.random()
            row = Conversation(
                preset=preset,
                preset_name=preset_name,
                launched_by=rng.choice(users),
                title=preset_name,
                persona_id=persona_id,
                persona_name=persona,
                replica_id=replica_id,
                replica_name=replica,
                settings_snapshot={
                    "persona_id": persona_id,
                    "replica_id": replica_id,
                    "properties": {"max_call_duration": 2400},
                },
                summary_snapshot=[
                    f"Persona: {persona}",
                    f"Replica: {replica}",
                    "Ends after 40 minutes",
                ],
                webhook_secret_hash=secrets.token_hex(32),
                tavus_id="c" + secrets.token_hex(8),
                conversation_url="https://tavus.daily.co/" + secrets.token_hex(6),
                created_at=created,
            )
            if roll < 0.04:
                row.status = Conversation.FAILED
                row.failure_reason = "Tavus turned the request down"
                row.ended_at, row.tavus_id = created + timedelta(seconds=1), None
            elif roll < 0.06:
                row.status, row.test_mode, row.end_reason = Conversation.ENDED, True, "test_mode"
                row.ended_at = created + timedelta(seconds=1)
            else:
                length = rng.randint(45, 40 * 60)
                row.status = Conversation.ENDED
                row.end_reason = rng.choice(REASONS)
                row.replica_joined_at = created + timedelta(seconds=2)
                row.person_joined_at = created + timedelta(seconds=rng.randint(5, 60))
                row.ended_at = created + timedelta(seconds=length)
                if rng.random() < 0.3:
                    row.recording_started_at = row.person_joined_at
                    row.recording = {
                        "bucket_name": "studio-recordings",
                        "s3_key": f"{row.tavus_id}/recording.mp4",
                        "duration": length - 10,
                    }
                if rng.random() < 0.2:
                    row.perception_analysis = (
                        f"The person appeared engaged and mostly looked at the camera.\n"
                        f"They smiled when {rng.choice(TOPICS)} came up and frowned briefly "
                        f"at {rng.choice(THINGS)}.\nNo other people were visible."
                    )
            rows.append(row)
        # `per` lines per conversation on average across the batch: the ones that failed or
        # were dry runs said nothing, so the others say a little more.
        talkers = [r for r in rows if r.status == Conversation.ENDED and not r.test_mode]
        mean = per * len(rows) / len(talkers) if talkers else 0
        talking = {id(r) for r in talkers}
        planned = []
        for row in rows:
            lines = []
            if id(row) in talking and mean:
                for seq in range(rng.randint(max(round(mean / 2), 1), round(mean * 1.5))):
                    role = "replica" if seq % 2 == 0 else "user"
                    bank = REPLICA_LINES if role == "replica" else USER_LINES
                    lines.append((role, _fill(rng, bank[0] if seq == 0 else rng.choice(bank[1:]))))
                # Most ended conversations also got Tavus's final transcript.
                if rng.random() < 0.75:
                    prompt = SYSTEM_PROMPT.format(persona=row.persona_name)
                    row.transcript = [
                        {"role": "system", "content": prompt},
                        *(
                            {"role": "assistant" if role == "replica" else "user", "content": text}
                            for role, text in lines
                        ),
                    ]
            planned.append((row, lines))
        rows = planned
        for row, _ in rows:
            row.end_received_at = row.ended_at  # bulk_create skips save()
        Conversation.objects.bulk_create([row for row, _ in rows])
        usage.forget(now - timedelta(days=days + 1))  # bulk_create sends no signals

        utterances, events, documents = [], [], []
        for row, lines in rows:
            if not lines:
                continue
            length = (row.ended_at - row.created_at).total_seconds()
            step = length / (len(lines) + 1)
            utterances += [
                Utterance(
                    conversation_id=row.pk,
                    role=role,
                    text=text,
                    seq=seq,
                    dedupe_key=f"seed:{seq}",
                    spoken_at=row.created_at + timedelta(seconds=5 + step * (seq + 1)),
                )
                for seq, (role, text) in enumerate(lines)
            ]
            documents.append((row.pk, "\n".join(text for _, text in lines)))
            for kind, at, props in (
                ("system.replica_joined", row.replica_joined_at, {}),
                ("system.shutdown", row.ended_at, {"shutdown_reason": row.end_reason}),
            ):
                events.append(
                    Event(
                        conversation_id=row.pk,
                        source=Event.WEBHOOK,
                        event_type=kind,
                        dedupe_key=f"{row.tavus_id}:{kind}",
                        occurred_at=at,
                        payload={
                            "conversation_id": row.tavus_id,
                            "event_type": kind,
                            "properties": {"replica_id": row.replica_id, **props},
                        },
                    )
                )
        Utterance.objects.bulk_create(utterances)
        Event.objects.bulk_create(events)
        search.index_many(documents)
        totals["conversations"] += len(rows)
        totals["utterances"] += len(utterances)
