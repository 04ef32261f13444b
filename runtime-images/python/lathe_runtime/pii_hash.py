"""The keyed hash of PII columns, as contract/pii-hash.ts computes it: ``hmac:`` and the first
32 hex digits of HMAC-SHA256 under the namespace's key (LATHE_PII_KEY); an old version's
per-version salt (``legacy_salted_hash``) is still read."""

import hashlib
import hmac
import re

PII_HASH_SCHEME = "hmac-sha256/v1"
PII_HASH_PREFIX = "hmac:"
_HASHED = re.compile(r"hmac:[0-9a-f]{32}")


class PiiKeyMissingError(Exception):
    """A keyed PII column's raw value must be hashed, and the pod has no key."""

    def __init__(self, column):
        super().__init__(
            f"column {column} is personal data hashed with a namespace key ({PII_HASH_SCHEME}), and "
            "LATHE_PII_KEY is not set: the operator has no PII key configured (Secret lathe-pii-key, "
            "see docs/data-governance.md)")
        self.column = column


def utf8(text):
    """``text`` as Node.js encodes a string to UTF-8: a lone surrogate becomes U+FFFD."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return re.sub("[\ud800-\udfff]", "\ufffd", text).encode("utf-8")


def is_pii_hash(value):
    return len(value) == 37 and _HASHED.fullmatch(value) is not None


def pii_hash(key, value):
    if is_pii_hash(value):
        return value
    return PII_HASH_PREFIX + hmac.new(key, utf8(value), hashlib.sha256).hexdigest()[:32]


def legacy_salted_hash(salt, value):
    return hashlib.sha256(utf8(salt) + utf8(value)).hexdigest()[:16]


def pii_hashing(key):
    """``hash(column, value)`` of a program holding ``key`` (bytes, or None): piiHashing."""

    def hash_value(column, value):
        if column.get("hash") is not None:
            if is_pii_hash(value):
                return value
            if key is None:
                raise PiiKeyMissingError(column["name"])
            return pii_hash(key, value)
        if column.get("hashSalt") is not None:
            return legacy_salted_hash(column["hashSalt"], value)
        return value

    return hash_value
