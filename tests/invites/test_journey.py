"""Invitation links in real Chromium, on the sandbox: a list of three from a CSV, one person
opens their link in their own browser, joins, talks and leaves; the Links page follows. Then
the person's page when every host is busy, and when Tavus never confirms the start."""

import re
import threading
from datetime import timedelta
from pathlib import Path

import httpx
from django.utils import timezone
from playwright.sync_api import expect

from studio.conversations.models import Conversation
from studio.conversations.reconcile import reconcile
from studio.invites.models import Invitation
from studio.tavus import client as tavus
from tests.browser.daily import wait_for

SHOTS = Path("/tmp/shots-invites")
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}

CSV = (
    "name,email,role\n"
    "Anna Berg,anna@example.com,Store manager\n"
    "Bo Chen,bo@example.com,Sales assistant\n"
    "Cleo Diaz,cleo@example.com,Team lead\n"
)

# Every text the join page's status line shows, in order (it changes quickly on the sandbox).
STATUS_LOG = """
window.__statuses = [];
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("join-status");
  if (!status) return;
  new MutationObserver(() => window.__statuses.push(status.textContent))
    .observe(status, { childList: true, characterData: true, subtree: true });
});
"""


def _shot(page, name, **options):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), **options)


def test_a_list_of_three_one_joins_talks_and_leaves(
    studio_server, operator, login_as, stock_preset, browser, tmp_path
):
    stock_preset(
        name="Shop floor practice",
        conversation_name="Shop floor practice",
        custom_greeting="Hello {name}! Shall we practise a tricky moment for a {role}?",
        participant_left_timeout=2,
    )
    staff = login_as(operator)
    staff.set_viewport_size(DESKTOP)

    # A list of three from a CSV file.
    staff.goto(studio_server.url + "/links/")
    staff.get_by_role("link", name="New links").first.click()
    staff.get_by_role("link", name="For a list").click()
    heading = staff.get_by_role("heading", name="Invitation links for Shop floor practice")
    expect(heading).to_be_visible()
    expect(staff.locator(".effective")).to_contain_text(
        "Opens with: “Hello Sam Taylor! Shall we practise a tricky moment for a Sales lead?”"
    )
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(CSV)
    staff.get_by_label("A CSV file").set_input_files(str(csv_file))
    _shot(staff, "new-list-desktop", full_page=True)
    staff.get_by_role("button", name="Make the links").click()
    expect(staff).to_have_url(re.compile(r"/links/\?list=\w+$"))
    rows = staff.locator("#links-table tbody tr")
    expect(rows).to_have_count(3)
    expect(staff.locator(".messages")).to_contain_text("3 links ready.")
    for name in ("Anna Berg", "Bo Chen", "Cleo Diaz"):
        expect(staff.locator("#links-table")).to_contain_text(name)
    expect(staff.locator('[data-state="ready"]')).to_have_count(3)
    _shot(staff, "links-made-desktop")
    assert Conversation.objects.count() == 0

    bo = Invitation.objects.get(person_name="Bo Chen")
    row = staff.locator(f"#link-{bo.pk}")
    link = row.get_by_role("button", name="Copy link").get_attribute("data-copy")
    assert link == f"{studio_server.url}/invite/{bo.token}/"

    # Bo opens the link on a phone: their own browser, signed in to nothing.
    phone = browser.new_context(viewport=PHONE)
    phone.add_init_script(STATUS_LOG)
    person = phone.new_page()
    person.set_default_timeout(15_000)
    person.goto(link)
    expect(person.get_by_role("heading", name="Shop floor practice with Bo Chen")).to_be_visible()
    expect(person.get_by_label("Your name")).to_have_value("Bo Chen")
    expect(person.locator("#preview")).to_have_attribute("data-state", "on")
    _shot(person, "invite-prejoin-phone")
    assert Conversation.objects.count() == 0  # opening the link starts nothing
    staff.reload()
    expect(staff.locator(f"#link-{bo.pk}")).to_have_attribute("data-state", "opened")

    # Join: the conversation starts now, and the page says so until the replica is there.
    person.get_by_role("button", name="Join").click()
    expect(person.locator("#call")).to_be_visible()
    expect(person.locator("#stage")).to_have_attribute("data-replica", "here")
    assert "Starting…" in person.evaluate("window.__statuses")
    conversation = Conversation.objects.get()
    assert conversation.title == "Shop floor practice with Bo Chen"
    assert conversation.settings_snapshot["custom_greeting"] == (
        "Hello Bo Chen! Shall we practise a tricky moment for a Sales assistant?"
    )
    expect(person.locator("#captions")).to_contain_text("Hello Bo Chen!")
    staff.reload()
    bo_row = staff.locator(f"#link-{bo.pk}")
    expect(bo_row).to_have_attribute("data-state", "joined")
    expect(bo_row.get_by_role("link", name="Shop floor practice with Bo Chen")).to_have_attribute(
        "href", f"/conversations/{conversation.pk}/"
    )
    _shot(staff, "links-joined-desktop")

    # Talk (typing stands in for speaking on the sandbox), then leave.
    say = person.get_by_label("Type what you would say")
    say.fill("A customer wants a refund without a receipt")
    say.press("Enter")
    expect(person.locator("#captions")).to_contain_text("refund without a receipt")
    _shot(person, "invite-call-phone")
    person.get_by_role("button", name="Leave").click()
    expect(person.get_by_role("heading", name="You've left the conversation")).to_be_visible()
    _shot(person, "invite-left-phone")

    # The room closes two seconds after Bo left; the Links page (refreshing itself) follows.
    expect(bo_row).to_have_attribute("data-state", "completed", timeout=40_000)
    expect(bo_row).to_contain_text("1 of 1")
    _shot(staff, "links-completed-desktop")

    # History carries Bo's name.
    staff.goto(studio_server.url + "/history/")
    expect(staff.locator(".history-table")).to_contain_text("Shop floor practice with Bo Chen")
    staff.goto(f"{studio_server.url}/history/{conversation.pk}/")
    expect(staff.get_by_role("heading", level=1)).to_contain_text("Bo Chen")

    # The used link now says so, and starts nothing more.
    person.goto(link)
    expect(person.get_by_role("heading", name="This link has been used")).to_be_visible()
    _shot(person, "invite-used-phone")
    assert Conversation.objects.count() == 1

    # The same pages at the other width, for a look.
    person.set_viewport_size(DESKTOP)
    anna = Invitation.objects.get(person_name="Anna Berg")
    person.goto(anna.link())
    expect(person.get_by_label("Your name")).to_have_value("Anna Berg")
    expect(person.locator("#preview")).to_have_attribute("data-state", "on")
    _shot(person, "invite-prejoin-desktop")
    staff.set_viewport_size(PHONE)
    staff.goto(studio_server.url + "/links/")
    _shot(staff, "links-phone", full_page=True)
    phone.close()


def test_bad_rows_and_a_missing_detail_read_plainly(
    studio_server, operator, admin_user, login_as, stock_preset, tmp_path
):
    stock_preset(
        name="Shop floor practice",
        custom_greeting="Hello {name}! Shall we practise a tricky moment for a {role}?",
    )
    staff = login_as(operator)
    staff.set_viewport_size(DESKTOP)
    staff.goto(studio_server.url + "/links/new/")
    staff.get_by_role("link", name="For one person").click()
    staff.get_by_label("Their name").fill("Anna Berg")
    staff.get_by_role("button", name="Make the link").click()
    expect(staff.locator("#id_detail_role-field")).to_contain_text(
        "Give their role: the greeting or context says {role}."
    )
    _shot(staff, "new-one-refused-desktop", full_page=True)
    assert Invitation.objects.count() == 0

    staff.get_by_role("link", name="A list").click()
    staff.get_by_label("…or paste the rows").fill(
        "name\temail\trole\nAnna Berg\tanna@example.com\tStore manager\n"
        "Bo Chen\tbo(at)example.com\tSales assistant\nCleo Diaz\tcleo@example.com\t\n"
    )
    staff.get_by_role("button", name="Make the links").click()
    result = staff.locator(".list-result")
    expect(result).to_contain_text("1 link made, 2 rows not used")
    expect(result).to_contain_text("“bo(at)example.com” is not an email address.")
    expect(staff.get_by_label("…or paste the rows")).to_have_value(
        "name,email,role\nBo Chen,bo(at)example.com,Sales assistant\nCleo Diaz,cleo@example.com"
    )
    _shot(staff, "new-list-bad-rows-desktop", full_page=True)
    assert list(Invitation.objects.values_list("person_name", flat=True)) == ["Anna Berg"]

    admin = login_as(admin_user)
    admin.set_viewport_size(DESKTOP)
    admin.goto(studio_server.url + "/settings/")
    expect(admin.get_by_role("group", name="Email for invitation links")).to_be_visible()
    admin.get_by_label("Mail server").scroll_into_view_if_needed()
    _shot(admin, "settings-email-desktop")


def _dana_opens_her_link(browser, stock_preset, operator):
    """A link for Dana on a "Front desk" preset, open on her phone with the camera on."""
    from tests.invites.conftest import make_link

    preset = stock_preset(name="Front desk", custom_greeting="Hello {name}!")
    invitation = make_link(preset, operator, name="Dana Ek", details={})
    context = browser.new_context(viewport=PHONE)
    person = context.new_page()
    person.set_default_timeout(15_000)
    person.goto(invitation.link())
    expect(person.locator("#preview")).to_have_attribute("data-state", "on")
    return invitation, context, person


def test_every_host_busy_then_free_on_a_retry(
    studio_server, operator, browser, stock_preset, settings
):
    from tests.conversations.factories import make_conversation

    settings.TAVUS_CONCURRENCY_LIMIT = 1
    holder, _ = make_conversation(operator, title="Someone else's call")
    invitation, context, person = _dana_opens_her_link(browser, stock_preset, operator)
    person.get_by_role("button", name="Join").click()
    status = person.locator("#join-status")
    expect(status).to_have_text("All our hosts are busy, try again in a minute.")
    expect(status).not_to_have_class(re.compile("is-error"))  # no error: a calm word
    expect(person.get_by_role("button", name="Try again")).to_be_enabled()
    person.locator("#join-status").scroll_into_view_if_needed()
    _shot(person, "invite-busy-phone")
    invitation.refresh_from_db()
    assert invitation.misses == 1 and Conversation.objects.count() == 1

    holder.mark_ended("participant_left_timeout")  # a host is free again
    person.get_by_role("button", name="Try again").click()
    expect(person.locator("#stage")).to_have_attribute("data-replica", "here")
    expect(person.locator("#captions")).to_contain_text("Hello Dana Ek!")
    invitation.refresh_from_db()
    assert invitation.uses == 1 and invitation.misses == 1
    context.close()


def test_a_start_tavus_never_confirmed_offers_try_again_with_the_use_back(
    studio_server, operator, login_as, browser, stock_preset, settings
):
    invitation, context, person = _dana_opens_her_link(browser, stock_preset, operator)

    def timed_out(request):
        raise httpx.ReadTimeout("Tavus is slow")

    # Tavus never answers the create: the page waits, asking the studio again every second.
    with tavus.use_transport(httpx.MockTransport(timed_out)):
        person.get_by_role("button", name="Join").click()
        wait_for(lambda: Conversation.objects.filter(status="unknown").exists())
    status = person.locator("#join-status")
    expect(status).to_have_text("Starting…")

    # The reconciler gives up on it: the page says so, and starts nothing on the use that came
    # back until the person presses again.
    later = timezone.now() + timedelta(seconds=settings.RECONCILE_UNKNOWN_GIVE_UP_SECONDS + 1)
    # In a thread of its own, as the job runs it: it publishes from sync code, and Playwright
    # keeps an event loop running in this one.
    job = threading.Thread(target=reconcile, kwargs={"now": later})
    job.start()
    job.join(timeout=30)
    expect(status).to_contain_text("The conversation couldn't start.")
    expect(person.get_by_role("button", name="Try again")).to_be_enabled()
    person.locator("#join-status").scroll_into_view_if_needed()
    _shot(person, "invite-not-started-phone")
    invitation.refresh_from_db()
    assert invitation.uses == 0 and Conversation.objects.count() == 1
    # Staff see the use back on the Links page, beside the attempt that didn't start.
    staff = login_as(operator)
    staff.set_viewport_size(DESKTOP)
    staff.goto(studio_server.url + "/links/")
    row = staff.locator(f"#link-{invitation.pk}")
    expect(row).to_contain_text("0 of 1")
    expect(row).to_contain_text("1 didn't start, given back")
    expect(row).to_contain_text("Failed to start: Tavus never started this conversation.")
    _shot(staff, "links-not-started-desktop")

    person.get_by_role("button", name="Try again").click()
    expect(person.locator("#stage")).to_have_attribute("data-replica", "here")
    expect(person.locator("#captions")).to_contain_text("Hello Dana Ek!")
    invitation.refresh_from_db()
    assert invitation.uses == 1 and Conversation.objects.count() == 2
    context.close()
