"""A list at once: a CSV file or pasted rows make one link per person; bad rows say why."""

import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from studio.invites.models import Invitation
from tests.invites.conftest import window

pytestmark = pytest.mark.time_window

CSV = (
    "Name,Email,Role,Company,Shoe size\n"
    "Anna Berg,anna@example.com,Sales lead,Acme,38\n"
    "Bo Chen,not-an-address,Engineer,Acme,44\n"
    "Cleo Diaz,cleo@example.com,,Acme,40\n"
    "\n"
    "Dan Evans,dan@example.com,Designer,Initech,42\n"
    "Eve Fox,ANNA@example.com,Analyst,Acme,37\n"
)



def _upload(client, preset, text, name="people.csv", encoding="utf-8", **fields):
    upload = SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")
    return client.post(f"/links/new/{preset.pk}/list/", {"upload": upload, **window(), **fields})


def test_good_rows_make_links_and_bad_rows_say_why(client, operator, interview):
    client.force_login(operator)
    response = _upload(client, interview, CSV)
    assert response.status_code == 200
    made = Invitation.objects.order_by("pk")
    assert [i.person_name for i in made] == ["Anna Berg", "Dan Evans"]
    assert len({i.batch for i in made}) == 1 and len({i.token for i in made}) == 2
    dan = made[1]
    assert dan.settings_snapshot["custom_greeting"] == (
        "Hello Dan Evans! Ready to talk about the Designer job?"
    )
    assert dan.details == {"role": "Designer", "company": "Initech"}  # no shoe size
    page = html.unescape(response.content.decode())
    assert "2 links made, 3 rows not used" in page
    assert "“not-an-address” is not an email address." in page
    assert "No role given for this person: the greeting or context says {role}." in page
    assert "The same email address as row 2." in page
    assert "Not a detail of this preset, so left out: Shoe size." in page
    # The refused rows wait in the box, under their header, to be fixed and sent again.
    box = page[page.index('name="rows"') :]
    box = box[box.index(">") + 1 : box.index("</textarea>")]
    assert box.strip().splitlines() == [
        "Name,Email,Role,Company,Shoe size",
        "Bo Chen,not-an-address,Engineer,Acme,44",
        "Cleo Diaz,cleo@example.com,,Acme,40",
        "Eve Fox,ANNA@example.com,Analyst,Acme,37",
    ]


def test_a_list_with_only_good_rows_goes_to_its_links(client, operator, interview):
    client.force_login(operator)
    text = "name,email,role,company\nAnna Berg,anna@example.com,Lead,Acme\nBo,bo@x.org,QA,Acme\n"
    response = _upload(client, interview, text)
    batch = Invitation.objects.first().batch
    assert response.status_code == 302 and response["Location"] == f"/links/?list={batch}"
    page = client.get(response["Location"]).content.decode()
    assert "Anna Berg" in page and "Bo" in page and page.count('data-state="ready"') == 2


def test_rows_pasted_from_a_spreadsheet(client, operator, interview):
    client.force_login(operator)
    rows = "name\temail\trole\tcompany\nAnna Berg\tanna@example.com\tLead\tAcme, Inc.\n"
    response = client.post(f"/links/new/{interview.pk}/list/", {"rows": rows, **window()})
    assert response.status_code == 302
    assert Invitation.objects.get().details == {"role": "Lead", "company": "Acme, Inc."}


def test_a_pasted_list_whose_last_cell_is_empty(client, operator, make_preset):
    preset = make_preset(custom_greeting="Hi {name}, about the {role} role")
    client.force_login(operator)
    # A spreadsheet copies an empty last cell as a trailing tab, which the form strips.
    rows = "name\temail\trole\nAnna\tanna@example.com\tLead\nBo\tbo@example.com\t\n"
    page = client.post(f"/links/new/{preset.pk}/list/", {"rows": rows, **window()})
    assert "No role given" in html.unescape(page.content.decode())
    assert list(Invitation.objects.values_list("person_name", flat=True)) == ["Anna"]


def test_excel_files_in_windows_1252(client, operator, interview):
    client.force_login(operator)
    text = "name;email;role;company\nJosé Müller;jose@example.com;Lead;Acme\n"
    assert _upload(client, interview, text, encoding="cp1252").status_code == 302
    assert Invitation.objects.get().person_name == "José Müller"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "Choose a CSV file, or paste the rows."),
        ("Anna,anna@example.com\n", "The first line must name the columns"),
        ("name,email\n", "The list has a header line but nobody in it."),
    ],
)
def test_a_list_that_cannot_be_read_changes_nothing(client, operator, interview, text, error):
    client.force_login(operator)
    response = client.post(f"/links/new/{interview.pk}/list/", {"rows": text, **window()})
    assert response.status_code == 400 and error in html.unescape(response.content.decode())
    assert Invitation.objects.count() == 0


def test_more_values_than_columns_is_a_bad_row(client, operator, make_preset):
    preset = make_preset(custom_greeting="Hi {name}")
    client.force_login(operator)
    rows = "name,email\nAnna,anna@example.com,extra\nBo,bo@example.com\n"
    page = html.unescape(
        client.post(f"/links/new/{preset.pk}/list/", {"rows": rows, **window()}).content.decode()
    )
    assert "3 values for 2 columns." in page
    assert list(Invitation.objects.values_list("person_name", flat=True)) == ["Bo"]


def test_the_list_page_says_which_columns_it_reads(client, operator, interview):
    client.force_login(operator)
    page = client.get(f"/links/new/{interview.pk}/list/").content.decode()
    assert "<code>name,email,role,company</code>" in page
