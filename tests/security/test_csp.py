"""The Content-Security-Policy: only this site, plus exactly what a page needs."""

import re

import pytest

from studio.library import csp
from studio.library.models import Replica


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {
        part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part
    }


@pytest.fixture(autouse=True)
def _fresh_thumbnail_hosts():
    csp._cache.update(at=-csp.REFRESH_SECONDS)


def test_a_page_allows_only_this_site(client, operator):
    client.force_login(operator)
    policy = directives(client.get("/presets/"))
    assert policy["script-src"][0] == "'self'" and re.match(r"'nonce-", policy["script-src"][1])
    assert len(policy["script-src"]) == 2
    assert policy["connect-src"] == ["'self'"]  # no ws: or wss: to anywhere
    assert policy["style-src"][0] == "'self'" and "'unsafe-inline'" not in policy["style-src"]
    assert policy["img-src"] == ["'self'", "data:", "blob:"]
    assert policy["media-src"] == ["'self'", "blob:"]
    assert "unpkg" not in " ".join(sum(policy.values(), []))


def test_replica_thumbnails_are_allowed_from_the_hosts_tavus_gave(client, admin_user):
    Replica.objects.create(replica_id="r1", name="Anna",
                           thumbnail_video_url="https://media.cdn-one.example/a.mp4")
    Replica.objects.create(replica_id="r2", name="Ben",
                           thumbnail_video_url="http://plain.example/b.mp4")  # not https: never
    client.force_login(admin_user)
    policy = directives(client.get("/library/"))
    assert policy["media-src"] == ["'self'", "blob:", "https://media.cdn-one.example"]
    assert "https://media.cdn-one.example" in policy["img-src"]
    assert "plain.example" not in str(policy)

