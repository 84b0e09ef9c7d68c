"""Secret values kept out of recorded HTTP bodies: the one masking of JSON
bodies, used by the FIRS exchange record (`invoicing.firs.client`) and the
vendor exchange record (`integrations.connections.http`).

Each record names its own secret keys (`SecretKeys`, data kept beside its
client); this module is the machinery. A body is recorded byte for byte
unless a value had to be masked, and then as the JSON of the masked document
(`json.dumps`'s default separators). A body that cannot hold a secret key
(none of the keys' words appears in it, and no key is spelt with JSON
escapes) is not parsed at all: invoice payloads and pages of orders are the
bulk of the traffic and hold none.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SecretKeys:
    """Which JSON keys hold secrets: `pattern` is searched in a key (compile it
    with re.I); `words` are lowercase texts of which one at least appears in
    any body holding such a key (the screen that spares the parse); `mask`
    replaces a secret's value."""

    pattern: re.Pattern
    words: tuple[str, ...]
    mask: str

    def __post_init__(self):
        # One cache per key set: the same few hundred keys come back in every body.
        object.__setattr__(self, "is_secret", functools.lru_cache(maxsize=4096)(
            lambda key: bool(self.pattern.search(key))))

    def may_hold(self, text: str) -> bool:
        if "\\u" in text:  # a key spelt with escapes defeats the screen
            return True
        lowered = text.lower()
        return any(word in lowered for word in self.words)

    def hides(self, key, value) -> bool:
        return isinstance(key, str) and bool(value) and self.is_secret(key)


class _Enough(Exception):
    pass


def masked(value: Any, keys: SecretKeys) -> Any:
    """A copy of a JSON-like value with every secret key's value masked, all the way down."""
    if isinstance(value, dict):
        return {k: keys.mask if keys.hides(k, v) else masked(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, keys) for v in value]
    return value


def masked_json_prefix(value: Any, keys: SecretKeys, limit: int) -> str:
    """`json.dumps(masked(value))[:limit]`, walking only as much of `value`
    as those characters need: a page of 500 orders (~1.5 MB) is kept as its
    first 20 000 characters, and masking and encoding all of it cost a fifth
    of a batch's CPU per sale."""
    parts: list[str] = []
    size = 0

    def put(text: str):
        nonlocal size
        parts.append(text)
        size += len(text)
        if size >= limit:
            raise _Enough

    def walk(v):
        if isinstance(v, dict):
            put("{")
            for i, (k, item) in enumerate(v.items()):
                put((", " if i else "") + json.dumps(k) + ": ")
                walk(keys.mask if keys.hides(k, item) else item)
            put("}")
        elif isinstance(v, list):
            put("[")
            for i, item in enumerate(v):
                if i:
                    put(", ")
                walk(item)
            put("]")
        else:
            put(json.dumps(v))

    try:
        walk(value)
    except _Enough:
        pass
    return "".join(parts)[:limit]


def redacted_json(text: str, keys: SecretKeys, *, limit: int | None = None) -> str | None:
    """`text` (a JSON body) as the record keeps it: cut at `limit`, and with
    every secret value masked. None when it is not JSON (the caller records
    it its own way)."""
    if not keys.may_hold(text):
        return text[:limit]
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if limit is not None and len(text) > limit:
        return masked_json_prefix(document, keys, limit)
    hidden = masked(document, keys)
    # Kept byte for byte unless something had to be masked.
    return (json.dumps(hidden) if hidden != document else text)[:limit]
