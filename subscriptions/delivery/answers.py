"""What a receiver answered, as an Attempt keeps it: the first RESPONSE_BODY_LIMIT bytes of the body (more is never
read) and at most MAX_RESPONSE_HEADERS headers, as text the database can store whatever the receiver sent."""

from __future__ import annotations

from eventhub.json_limits import storable_text

RESPONSE_BODY_LIMIT = 4096  # what an Attempt keeps of a response; more is never read
MAX_RESPONSE_HEADERS = 100
MAX_RESPONSE_HEADER_VALUE = 1024


async def answer(response) -> tuple[dict, str]:
    """(headers, body) of an aiohttp response, bounded and storable: NUL and lone surrogates become U+FFFD
    (json_limits.storable_text). aiohttp hands a header's bytes that are not UTF-8 over as lone surrogates
    ("caf\\udce9"), which PostgreSQL refuses, failing the statement that records the whole batch's attempts."""
    length = response.content_length
    if length is not None and length <= RESPONSE_BODY_LIMIT and "Content-Encoding" not in response.headers:
        raw = await response.read()  # it says how much comes, and that is within the limit: as a bare client reads it
    else:  # unknown, longer, or compressed (whose length says nothing of what it unpacks to): never more than the limit
        raw = await _read_bounded(response.content, RESPONSE_BODY_LIMIT)
    return _bounded_headers(response.headers), storable_text(_decoded(raw, response.charset))


async def _read_bounded(stream, limit):
    chunks, size = [], 0
    while size < limit:
        chunk = await stream.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if stream.at_eof():  # all of it came: no second read (an await) to learn so
            break
    return b"".join(chunks)


def _decoded(raw: bytes, charset: str | None) -> str:
    """The response body as text: in its declared charset, UTF-8 when it declares none or one Python does not know."""
    try:
        return raw.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def _bounded_headers(headers):
    out = dict(headers)  # nearly always: each name once, every value short, plain ASCII: kept as they are
    if len(out) == len(headers) <= MAX_RESPONSE_HEADERS:
        text = "".join(out) + "".join(out.values())
        if text.isascii() and "\x00" not in text and all(len(value) <= MAX_RESPONSE_HEADER_VALUE for value in out.values()):
            return out
    out = {}
    for name, value in headers.items():
        name, value = storable_text(name), storable_text(value)
        if name in out:
            out[name] = f"{out[name]}, {value}"[:MAX_RESPONSE_HEADER_VALUE]
        elif len(out) < MAX_RESPONSE_HEADERS:
            out[name] = value[:MAX_RESPONSE_HEADER_VALUE]
    return out
