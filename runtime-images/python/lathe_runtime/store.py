"""The object store as a runtime program uses it: a few operations, the contract's failure
reasons (StorageUnavailable is transient, a missing object is the caller's to name), and
credentials that follow the operator's rotations."""

import io
import json
import os
import time

from . import contract


class CredentialsDir:
    """The run's credentials: from the mounted Secret's files when they can be read (the
    operator rotates temporary credentials there before they expire), else from the
    environment. minio asks before every request; the files are read at most every 5 s."""

    def __init__(self, settings):
        self.settings = settings
        self.checked = 0.0
        self.current = None

    def retrieve(self):
        from minio.credentials import Credentials

        now = time.monotonic()
        if self.current is None or now - self.checked >= 5:
            self.checked = now
            keys = {"accessKey": self.settings.access_key, "secretKey": self.settings.secret_key,
                    "sessionToken": self.settings.session_token}
            if self.settings.credentials_dir:
                for name in keys:
                    try:
                        with open(os.path.join(self.settings.credentials_dir, name)) as f:
                            keys[name] = f.read().strip() or None
                    except OSError:
                        pass
            self.current = Credentials(keys["accessKey"], keys["secretKey"], keys["sessionToken"])
        return self.current


class Store:
    """read / write of whole objects; ``settings`` is an ObjectStoreSettings."""

    def __init__(self, settings):
        from urllib.parse import urlparse

        from minio import Minio

        url = urlparse(settings.endpoint)
        self.client = Minio(url.netloc, credentials=CredentialsDir(settings),
                            secure=url.scheme == "https", region=settings.region)

    def read(self, bucket, key):
        """The object's bytes; FileNotFoundError when it does not exist."""
        from minio.error import S3Error
        try:
            response = self.client.get_object(bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()
        except S3Error as error:
            if error.code in ("NoSuchKey", "NoSuchBucket", "NotFound"):
                raise FileNotFoundError(f"s3://{bucket}/{key}") from error
            raise contract.ContractError("StorageUnavailable", f"s3://{bucket}/{key}: {error}") from error
        except Exception as error:  # network errors
            raise contract.ContractError("StorageUnavailable", f"s3://{bucket}/{key}: {error}") from error

    def write(self, bucket, key, data, content_type="application/octet-stream"):
        try:
            self.client.put_object(bucket, key, io.BytesIO(data), len(data), content_type=content_type)
        except Exception as error:
            raise contract.ContractError("StorageUnavailable", f"s3://{bucket}/{key}: {error}") from error


def put_json(store, uri, file, value):
    """Writes ``value`` as ``file`` under the prefix ``uri`` (progress.json, history.json)."""
    bucket, prefix = contract.parse_s3_uri(uri)
    store.write(bucket, contract.key_in(prefix, file), (json.dumps(value) + "\n").encode(), "application/json")
