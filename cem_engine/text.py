"""Text preparation: only what the customer wrote in *this* message, split into sentences.

Email bodies carry far more than the customer's words: HTML, the quoted thread (often the rep's own
upbeat sales text), signatures and legal disclaimers. Scoring those would mix the rep's feelings into
the customer's, so they are removed before anything is scored.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from .memo import Memo

_HTML_HINT = re.compile(r"<(?:html|body|div|p|br|span|blockquote|table|td|font|b|i|a)\b[^>]*>", re.IGNORECASE)
_BLOCK_TAGS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "table", "ul", "ol", "hr"})
_SKIP_TAGS = frozenset({"style", "script", "head", "title"})
# Containers of quoted earlier messages in Gmail, Outlook, Apple Mail and Thunderbird HTML.
_QUOTE_CLASSES = ("gmail_quote", "moz-cite-prefix", "yahoo_quoted", "outlook_quote")
_QUOTE_IDS = ("divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container")
_VOID_TAGS = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base"})


class _VisibleText(HTMLParser):
    """Collects visible text, dropping quoted-message containers and non-content elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._stack: list[bool] = []  # per open element: does it start a skipped region?
        self._skip_depth = 0
        self._stopped = False  # everything after an Outlook reply header is the old thread

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag in _VOID_TAGS:
            return
        attr = {k: (v or "").lower() for k, v in attrs}
        skip = (
            tag in _SKIP_TAGS or tag == "blockquote"
            or any(c in attr.get("class", "") for c in _QUOTE_CLASSES)
            or attr.get("id", "") in _QUOTE_IDS
        )
        if attr.get("id", "") in _QUOTE_IDS:
            self._stopped = True
        self._stack.append(skip)
        if skip:
            self._skip_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag in _VOID_TAGS or not self._stack:
            return
        if self._stack.pop():
            self._skip_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip_depth and not self._stopped:
            self.parts.append(data)


def html_to_text(body: str) -> str:
    parser = _VisibleText()
    parser.feed(body)
    parser.close()
    return "".join(parser.parts)


# Where the quoted thread begins in plain-text replies; everything from there on is dropped.
_THREAD_START = re.compile(
    r"^\s*(?:"
    r"On\b[^\n]{0,200}(?:\n[^\n]{0,200})?\bwrote:\s*$"          # Gmail / Apple: On <date>, <name> wrote:
    r"|-{2,}\s*Original Message\s*-{2,}"                          # Outlook
    r"|-{2,}\s*Forwarded message\s*-{2,}"
    r"|_{8,}\s*$"                                                  # Outlook web separator line
    r"|From:\s[^\n]+\n\s*(?:Sent|Date):\s"                         # Outlook header block
    r"|Am\b[^\n]{0,200}\bschrieb[^\n]{0,100}:\s*$"                 # German Gmail
    r"|Le\b[^\n]{0,200}\ba écrit\s*:\s*$"                          # French Gmail
    r")",
    re.IGNORECASE | re.MULTILINE,
)
_SIGNATURE_DELIMITER = re.compile(r"^--\s*$", re.MULTILINE)
_SIGN_OFF = re.compile(
    r"^\s*(?:best|best regards|kind regards|warm regards|regards|thanks|thank you|many thanks|cheers|sincerely"
    r"|br|thx|sent from my \w+)[,.!]?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_DISCLAIMER = re.compile(
    r"(?:confidentiality notice|disclaimer|this e-?mail and any attachments|the information contained in this"
    r"|this message (?:is|may be) confidential|please consider the environment)",
    re.IGNORECASE,
)
_MOBILE_FOOTER = re.compile(r"^\s*sent from my [\w ]+$", re.IGNORECASE | re.MULTILINE)
_SIGN_OFF_TAIL_LINES = 8  # a sign-off followed by more than this many lines is prose, not a signature


def strip_thread(text: str) -> str:
    """Drop the quoted thread, '>' lines, signature and disclaimers from plain text."""
    match = _THREAD_START.search(text)
    if match:
        text = text[: match.start()]
    text = "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(">"))
    match = _SIGNATURE_DELIMITER.search(text)
    if match:
        text = text[: match.start()]
    for sign_off in reversed(list(_SIGN_OFF.finditer(text))):
        tail = [line for line in text[sign_off.end():].split("\n") if line.strip()]
        if len(tail) <= _SIGN_OFF_TAIL_LINES:
            text = text[: sign_off.start()]
            break
    paragraphs = re.split(r"\n\s*\n", text)
    kept = [p for p in paragraphs if not _DISCLAIMER.search(p[:120])]
    return _MOBILE_FOOTER.sub("", "\n\n".join(kept))


# Bodies repeat (templates, auto-replies, a body read as a message and again as a rep note or an offer).
_CLEANED = Memo(2048, max_key_chars=8000)


def clean_text(body: str, *, max_chars: int = 20000) -> str:
    """The customer's own words of one message: no HTML, quoted thread, signature or disclaimer."""
    if not body:
        return ""
    found = _CLEANED.get((body, max_chars))
    if found is None:
        found = _clean(body, max_chars)
        _CLEANED.put((body, max_chars), found, len(body))
    return found


def _clean(body: str, max_chars: int) -> str:
    body = body[: max_chars * 3]  # HTML markup is verbose; the visible text is capped below
    if _HTML_HINT.search(body):
        body = html_to_text(body)
    body = body.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    text = strip_thread(body)
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()[:max_chars]


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_HAS_LETTER = re.compile(r"[A-Za-z]")


def split_sentences(text: str, *, max_sentences: int = 80) -> list[str]:
    """Sentences of cleaned text; line breaks end sentences too (chat lines, bullet points)."""
    sentences: list[str] = []
    for line in text.split("\n"):
        line = line.strip(" \t-*•")
        if not line:
            continue
        for part in _SENTENCE_END.split(line):
            part = part.strip()
            if len(part) > 1 and _HAS_LETTER.search(part):
                sentences.append(part)
                if len(sentences) >= max_sentences:
                    return sentences
    return sentences


def normalise(sentence: str) -> str:
    """Lower case with straight apostrophes, the form cue phrases are matched against."""
    return sentence.lower().replace("\u2019", "'").replace("\u2018", "'")


def short_quote(sentence: str, limit: int) -> str:
    """A quote short enough for a CRM text field, cut on a word boundary."""
    sentence = " ".join(sentence.split())
    if len(sentence) <= limit:
        return sentence
    cut = sentence[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"
