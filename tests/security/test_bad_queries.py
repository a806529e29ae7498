"""Searches with characters a database refuses (NUL on PostgreSQL) answer a page, not a 500."""

import pytest


@pytest.mark.parametrize(
    "path", ["/presets/?q=%00", "/library/?q=%00", "/library/personas/?q=%00",
             "/presets/?q=a%00b", "/library/personas/?q=%00&type=user"],
)
def test_a_nul_in_a_search_is_ignored(client, admin_user, path):
    client.force_login(admin_user)
    assert client.get(path).status_code == 200
