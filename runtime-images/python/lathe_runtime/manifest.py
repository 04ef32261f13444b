"""The artifact manifest, byte for byte as contract/manifest.ts writes it.

Canonical form: files sorted by path, keys in the order path, sizeBytes, sha256, two-space
JSON indentation, a final newline; the artifact's digest is the sha256 of those bytes.
``json.dumps(..., indent=2, ensure_ascii=False)`` reproduces JSON.stringify(..., null, 2) for
these values (strings and integers). Paths are sorted by UTF-16 code units, as JavaScript
compares strings, which differs from Python's code-point order only for characters beyond
the Basic Multilingual Plane.
"""

import hashlib
import json

MANIFEST_FILE = "manifest.json"


def manifest_entry(path, data):
    """One file as the manifest records it."""
    return {"path": path, "sizeBytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _utf16_key(entry):
    return entry["path"].encode("utf-16-be")


def manifest_for(files):
    """(manifest bytes, "sha256:<hex>" digest) for files: a dict of path -> bytes."""
    entries = sorted((manifest_entry(p, b) for p, b in files.items()), key=_utf16_key)
    for entry in entries:
        path = entry["path"]
        if not path or path.startswith("/") or ".." in path.split("/") or path == MANIFEST_FILE:
            raise ValueError(f"{path!r} is not a relative path inside the artifact")
    data = (json.dumps({"files": entries}, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    return data, "sha256:" + hashlib.sha256(data).hexdigest()


def check_against_manifest(manifest, path, data):
    """None if data is the file the parsed manifest lists at path, else what differs."""
    for entry in manifest.get("files", []):
        if entry.get("path") == path:
            actual = manifest_entry(path, data)
            if actual["sha256"] != entry.get("sha256") or actual["sizeBytes"] != entry.get("sizeBytes"):
                return (
                    f"{path} is {actual['sizeBytes']} bytes with sha256:{actual['sha256']}; "
                    f"{MANIFEST_FILE} says {entry.get('sizeBytes')} bytes with sha256:{entry.get('sha256')}"
                )
            return None
    return f"{path} is not listed in {MANIFEST_FILE}"
