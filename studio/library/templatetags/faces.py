"""{% face subject %}: a replica's face wherever one is shown.

`subject` is a library Replica, or anything with `replica_id`, `thumbnail_video_url` and a
`replica_name` or `name` (a Conversation keeps these from its launch); None draws "no face yet".
A Tavus thumbnail plays as a lazy, muted video (include "library/_lazy_video.html" once per page
to start it when on screen); without one the replica is drawn from its id (studio/portraits.py),
the same face the sandbox room shows.
"""

from django import template

from studio.portraits import face_look

register = template.Library()


@register.inclusion_tag("library/_face.html")
def face(subject) -> dict:
    replica_id = getattr(subject, "replica_id", "") or ""
    name = getattr(subject, "replica_name", "") or getattr(subject, "name", "") or replica_id
    video = getattr(subject, "thumbnail_video_url", "") or ""
    return {
        "face_id": replica_id,
        "name": name,
        "video": video,
        "look": face_look(replica_id) if replica_id and not video else None,
    }
