"""A model artifact in the object store: written file by file with manifest.json last (the
operator verifies the manifest's digest before it registers anything), and read back verified
against the digest the operator recorded (the evaluate mode), each file against the manifest."""

import json

from . import contract
from .manifest import MANIFEST_FILE, check_against_manifest, manifest_for


def write_artifact(store, uri, files):
    """Uploads ``files`` ({path: bytes}) under ``uri``, then their manifest; returns the digest."""
    manifest, digest = manifest_for(files)
    bucket, prefix = contract.parse_s3_uri(uri)
    for file, data in files.items():
        store.write(bucket, contract.key_in(prefix, file), data)
    store.write(bucket, contract.key_in(prefix, MANIFEST_FILE), manifest, "application/json")
    return digest


def read_artifact(store, uri, digest, files):
    """{file: bytes} of ``files`` of the artifact at ``uri``, whose manifest must have
    ``digest``; ArtifactInvalid names what differs. Also returns the parsed manifest."""
    import hashlib

    bucket, prefix = contract.parse_s3_uri(uri)

    def read(file):
        try:
            return store.read(bucket, contract.key_in(prefix, file))
        except FileNotFoundError as error:
            raise contract.ContractError("ArtifactInvalid", f"the artifact {uri} has no {file}") from error

    manifest_bytes = read(MANIFEST_FILE)
    actual = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
    if actual != digest:
        raise contract.ContractError(
            "ArtifactInvalid", f"{uri}{MANIFEST_FILE} has digest {actual}, not the recorded {digest}")
    manifest = json.loads(manifest_bytes)
    out = {}
    for file in files:
        data = read(file)
        mismatch = check_against_manifest(manifest, file, data)
        if mismatch:
            raise contract.ContractError("ArtifactInvalid", f"{uri}: {mismatch}")
        out[file] = data
    return out, manifest
