"""Salesforce record ids: 15-character case-sensitive ids and their
18-character case-insensitive form (a 3-character checksum suffix).

Org ids arrive in both forms (the outbound message carries 18, the OAuth
identity URL 18, some admin screens 15), so comparisons go through `same_id`.
"""
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def to_18(record_id: str) -> str:
    """The 18-character form of a 15- or 18-character id."""
    if len(record_id) == 18:
        return record_id
    if len(record_id) != 15:
        raise ValueError(f"a Salesforce id has 15 or 18 characters, not {len(record_id)}: {record_id!r}")
    suffix = ""
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(record_id[chunk * 5:chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _SUFFIX_ALPHABET[bits]
    return record_id + suffix


def to_15(record_id: str) -> str:
    if len(record_id) not in (15, 18):
        raise ValueError(f"a Salesforce id has 15 or 18 characters, not {len(record_id)}: {record_id!r}")
    return record_id[:15]


def same_id(a: str, b: str) -> bool:
    """True when two ids (15 or 18 characters) name the same record."""
    try:
        return to_15(a) == to_15(b)
    except ValueError:
        return False
