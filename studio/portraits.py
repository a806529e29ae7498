"""How a replica without a video is drawn: a portrait whose colours and hair follow from its id.

The sandbox's room draws its replica this way (templates/portraits/face.html), and the studio's
pages draw every replica that has no Tavus thumbnail video the same way (all sandbox replicas; a
real one still training), so the face on a card is the face in the room. It belongs to neither
the studio's apps nor the sandbox: both use it, and it knows nothing of either.
"""

import hashlib

_SKIN = ["#f2c7a5", "#e0ac87", "#c68863", "#a86b4a", "#8a5436", "#f5d3b8"]
_HAIR = ["#2b1d14", "#4a2f1d", "#7a4a26", "#b07a3c", "#d9b26f", "#1b1b1f", "#8c8c94"]
_ACCENT = ["#3b5bdb", "#0ca678", "#e8590c", "#ae3ec9", "#1c7ed6", "#d6336c", "#2f9e44"]

# Hand-picked looks for Tavus's published stock replicas: (skin, hair, hair style, accent).
_LOOKS = {
    "r7bc3db0d581": ("#f2c7a5", "#4a2f1d", "long", "#3b5bdb"),
    "rf25acd9e3f5": ("#e0ac87", "#1b1b1f", "short", "#1c7ed6"),
    "re0eae1fbe11": ("#f5d3b8", "#b07a3c", "long", "#0ca678"),
    "r1af76e94d00": ("#c68863", "#2b1d14", "bun", "#ae3ec9"),
    "r95fd27b5a37": ("#f2c7a5", "#8c8c94", "bun", "#1c7ed6"),
    "r1a4e22fa0d9": ("#8a5436", "#1b1b1f", "short", "#2f9e44"),
    "r90105daccb4": ("#e0ac87", "#2b1d14", "long", "#d6336c"),
    "r6ae5b6efc9d": ("#f5d3b8", "#d9b26f", "long", "#e8590c"),
    "rb11617de314": ("#a86b4a", "#2b1d14", "long", "#0ca678"),
    "rb67667672ad": ("#f2c7a5", "#7a4a26", "bun", "#3b5bdb"),
    "rfe12d8b9597": ("#e0ac87", "#4a2f1d", "short", "#e8590c"),
}


def face_look(replica_id: str) -> dict:
    """Colours and hair style for a replica's drawn face; stable for any id."""
    if replica_id in _LOOKS:
        skin, hair, style, accent = _LOOKS[replica_id]
    else:
        digest = hashlib.sha256(replica_id.encode()).digest()
        skin = _SKIN[digest[0] % len(_SKIN)]
        hair = _HAIR[digest[1] % len(_HAIR)]
        style = ("short", "long", "bun")[digest[2] % 3]
        accent = _ACCENT[digest[3] % len(_ACCENT)]
    return {"skin": skin, "hair": hair, "style": style, "accent": accent}
