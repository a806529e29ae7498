"""What the sandbox's knowledge base reads from a document_url, and how it finds an answer.

Tavus downloads the file (or crawls the site) behind `document_url` and indexes it for the LLM.
The sandbox does the downloading for real, so an unreachable or wrong link fails as it would at
Tavus, and keeps plain text; "retrieval" is a keyword lookup, deterministic so tests and demos
can predict the answer. Pictures (.png, .jpg) are accepted but yield no text: there is no OCR.
"""

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree

import httpx
from django.conf import settings

from studio.sandbox.host import host

MAX_BYTES = 50 * 1024 * 1024  # Tavus's cap per document
TIMEOUT = httpx.Timeout(15.0, connect=5.0)
ZIP_TEXT = {
    ".docx": re.compile(r"^word/document\.xml$"),
    ".pptx": re.compile(r"^ppt/slides/slide\d+\.xml$"),
    ".xlsx": re.compile(r"^xl/sharedStrings\.xml$"),
}
BY_CONTENT_TYPE = {
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "text/html": ".html",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/msword": ".doc",
    "image/png": ".png",
    "image/jpeg": ".jpg",
}


class ReadError(Exception):
    """The document could not be read; the text is Tavus-style `error_message`."""


@dataclass
class Reading:
    text: str = ""
    urls: list[str] = field(default_factory=list)  # pages read (crawls)


def _kind(url: str, content_type: str) -> str:
    content_type = content_type.split(";")[0].strip().lower()
    if content_type in BY_CONTENT_TYPE:
        return BY_CONTENT_TYPE[content_type]
    path = urlsplit(url).path.lower()
    for suffix in (*ZIP_TEXT, ".pdf", ".txt", ".csv", ".doc", ".png", ".jpg", ".jpeg", ".html"):
        if path.endswith(suffix):
            return ".jpg" if suffix == ".jpeg" else suffix
    return ".html" if content_type.startswith("text/") else ""


def _download(client: httpx.Client, url: str) -> tuple[bytes, str, str]:
    """(body, content type, final URL) or ReadError; never more than MAX_BYTES."""
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise ReadError(f"Could not download {url}: HTTP {response.status_code}")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise ReadError("The document is larger than 50 MB.")
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get("content-type", ""), str(response.url)
    except httpx.HTTPError as exc:
        raise ReadError(f"Could not download {url}: {type(exc).__name__}") from exc


def _pdf_text(body: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(body))
        return "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise ReadError("The PDF could not be read.") from exc


def _zip_text(body: bytes, kind: str) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
        names = sorted(n for n in archive.namelist() if ZIP_TEXT[kind].match(n))
        parts = []
        for name in names:
            root = ElementTree.fromstring(archive.read(name))  # noqa: S314 - no DTDs in OOXML
            # Paragraphs (w:p, a:p) and shared strings (si) each become a line.
            for block in root.iter():
                if block.tag.rsplit("}", 1)[-1] in ("p", "si"):
                    text = "".join(t.text or "" for t in block.iter() if t.tag.endswith("}t"))
                    if text.strip():
                        parts.append(text)
        return "\n".join(parts)
    except (zipfile.BadZipFile, ElementTree.ParseError, KeyError) as exc:
        raise ReadError(f"The {kind[1:]} file could not be read.") from exc


class _Page(HTMLParser):
    SKIP = {"script", "style", "noscript", "template"}
    BLOCKS = {"p", "div", "li", "br", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section"}

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        href = dict(attrs).get("href") if tag == "a" else None
        if href:
            self.links.append(href)

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skipping:
            self.parts.append(data)

    @property
    def text(self) -> str:
        lines = (" ".join(line.split()) for line in "".join(self.parts).splitlines())
        return "\n".join(line for line in lines if line)


def _text_of(body: bytes, kind: str) -> tuple[str, list[str]]:
    """(text, links) of one downloaded file."""
    if kind == ".pdf":
        return _pdf_text(body), []
    if kind in ZIP_TEXT:
        return _zip_text(body, kind), []
    if kind in (".png", ".jpg", ".doc"):
        return "", []  # accepted, but the sandbox cannot see into pictures or old Word files
    text = body.decode("utf-8", errors="replace")
    if kind == ".csv":
        return "\n".join(", ".join(row) for row in csv.reader(io.StringIO(text))), []
    if kind == ".txt":
        return text, []
    if kind == ".html":
        page = _Page()
        page.feed(text)
        return page.text, page.links
    raise ReadError("Unsupported file type. Use PDF, TXT, DOCX, DOC, PNG, JPG, PPTX, CSV or XLSX.")


def may_fetch(url: str) -> bool:
    """Stricter than Tavus on purpose: a sandbox inside the studio that downloaded any address
    would let whoever reaches it make the server request anything (server-side request
    forgery). It reads the studio's own upload links, or what SANDBOX_FETCH_PREFIXES allows."""
    allowed = settings.SANDBOX_FETCH_PREFIXES or [host().public_url + "/knowledge/files/"]
    return any(url.startswith(prefix) for prefix in allowed)


def read(url: str, crawl: dict | None = None) -> Reading:
    """Download `url` (and, for a crawl, the same-site pages it links to) as plain text."""
    if not may_fetch(url):
        raise ReadError(
            "The sandbox reads only files uploaded to this studio; it makes no requests to "
            "other servers. Upload the file instead, or try the link with real Tavus."
        )
    # No redirects: one could lead outside what may_fetch allows.
    with httpx.Client(
        timeout=TIMEOUT, follow_redirects=False, headers={"User-Agent": "tavus-sandbox/1.0"}
    ) as client:
        body, content_type, final = _download(client, url)
        kind = _kind(final, content_type)
        text, links = _text_of(body, kind)
        reading = Reading(text=text, urls=[final])
        if not crawl or kind != ".html":
            return reading
        # Breadth-first over links on the same host: depth 1 = pages linked from the start.
        host = urlsplit(final).netloc
        frontier, seen = [(link, 1) for link in links], {final}
        texts = [text]
        while frontier and len(reading.urls) < crawl.get("max_pages", 10):
            link, depth = frontier.pop(0)
            target = urljoin(final, link).split("#")[0]
            if target in seen or urlsplit(target).netloc != host or depth > crawl.get("depth", 1):
                continue
            if not may_fetch(target):
                continue
            seen.add(target)
            try:
                page_body, page_type, page_url = _download(client, target)
                page_text, page_links = _text_of(page_body, _kind(page_url, page_type))
            except ReadError:
                continue  # a broken link on a site does not fail the whole crawl
            reading.urls.append(page_url)
            texts.append(page_text)
            frontier.extend((found, depth + 1) for found in page_links)
        reading.text = "\n".join(texts)
        return reading


# --- Looking things up --------------------------------------------------------------------------

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "tell",
        "know",
        "please",
        "thanks",
        "thank",
        "hello",
        "there",
        "say",
        "said",
        "want",
        "like",
        "get",
        "does",
    ]
)
_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def keywords(text: str) -> set[str]:
    words = _WORD.findall(text.lower())
    return {w.strip("'-") for w in words if len(w) >= 3 and w not in STOPWORDS}


def lookup(question: str, documents: list[tuple[str, str]], best: int = 1) -> list[tuple]:
    """The `best` sentences (document name, sentence) sharing the most keywords with
    `question`; a sentence must share a word of 4+ letters or two words to count."""
    wanted = keywords(question)
    if not wanted:
        return []
    scored = []
    for order, (name, text) in enumerate(documents):
        for index, sentence in enumerate(_SENTENCE.split(text)):
            sentence = " ".join(sentence.split())
            shared = wanted & keywords(sentence)
            if len(shared) >= 2 or any(len(word) >= 4 for word in shared):
                scored.append((-len(shared), order, index, name, sentence))
    scored.sort()
    return [(name, sentence) for _, _, _, name, sentence in scored[:best]]
