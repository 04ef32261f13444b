"""The parts of Lathe's runtime contract the Python trainers use, mirrored from contract/
(runtime-env.ts, object-store-layout.ts, results.ts). The TypeScript modules are the source of
truth; tests run the Python side against them (runtime-images/python/*.test.ts)."""

import json
import re

# runtime-env.ts: ObjectStoreEnv, TrainEnv, RESULT_PATH_ENV
OBJECT_STORE_ENDPOINT = "LATHE_OBJECT_STORE_ENDPOINT"
OBJECT_STORE_BUCKET = "LATHE_OBJECT_STORE_BUCKET"
OBJECT_STORE_REGION = "LATHE_OBJECT_STORE_REGION"
OBJECT_STORE_ACCESS_KEY = "LATHE_OBJECT_STORE_ACCESS_KEY"
OBJECT_STORE_SECRET_KEY = "LATHE_OBJECT_STORE_SECRET_KEY"
OBJECT_STORE_SESSION_TOKEN = "LATHE_OBJECT_STORE_SESSION_TOKEN"
OBJECT_STORE_CREDENTIALS_DIR = "LATHE_OBJECT_STORE_CREDENTIALS_DIR"
DATASET_URI = "LATHE_DATASET_URI"
DATASET_VERSION = "LATHE_DATASET_VERSION"
OUTPUT_URI = "LATHE_OUTPUT_URI"
RUN_URI = "LATHE_RUN_URI"
TASK = "LATHE_TASK"
HYPERPARAMETERS = "LATHE_HYPERPARAMETERS"
EXTRA_HYPERPARAMETER_PREFIX = "LATHE_HP_"
FAIRNESS = "LATHE_FAIRNESS"
PII_KEY = "LATHE_PII_KEY"
RESULT_PATH = "LATHE_RESULT_PATH"
DEFAULT_RESULT_PATH = "/dev/termination-log"
# runtime-env.ts: EvaluateEnv (with TASK and the object store's)
EVALUATE_MODEL_URI = "LATHE_EVALUATE_MODEL_URI"
EVALUATE_MODEL_DIGEST = "LATHE_EVALUATE_MODEL_DIGEST"

# object-store-layout.ts: DatasetFile, RunFile
DATASET_FILES = ("schema.json", "train.csv", "test.csv")
TEST_RAW_FILE = "test.raw.jsonl"
SCHEMA_FILE = "schema.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
PROGRESS_FILE = "progress.json"

# results.ts
MAX_TERMINATION_MESSAGE_BYTES = 4096
# RuntimeExitCode: a transient reason (worth the Job's back-off) exits 75, any other failure 1,
# an invalid environment 2.
EXIT_SUCCEEDED = 0
EXIT_FAILED = 1
EXIT_INVALID_ENVIRONMENT = 2
EXIT_TRANSIENT = 75
TRANSIENT_REASONS = frozenset({"SourceUnavailable", "StorageUnavailable"})


def exit_code_for(reason):
    """The exit code of a failure with ``reason`` (results.ts exitCodeFor)."""
    return EXIT_TRANSIENT if reason in TRANSIENT_REASONS else EXIT_FAILED


class ContractError(Exception):
    """A failure with one of results.ts' FailureReason values."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


def parse_s3_uri(uri):
    """(bucket, key) of s3://bucket/key, as object-store-layout.ts parses it."""
    match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.*)", uri or "")
    if not match:
        raise ValueError(f'"{uri}" is not an s3://<bucket>/<key> URI')
    return match.group(1), match.group(2)


def key_in(prefix, file):
    """The key of file under prefix, as keyInArtifact does."""
    return (prefix if prefix.endswith("/") else prefix + "/") + file


def termination_message(result):
    """The result as JSON within the kubelet's 4096 bytes (a failure's message is shortened)."""
    text = json.dumps(result, separators=(",", ":"))
    if len(text.encode()) <= MAX_TERMINATION_MESSAGE_BYTES:
        return text
    if result.get("outcome") == "failed":
        overflow = len(text.encode()) - MAX_TERMINATION_MESSAGE_BYTES + 3
        message = result["message"]
        shortened = dict(result, message=message[: max(0, len(message) - overflow - 16)] + "...")
        return json.dumps(shortened, separators=(",", ":"))
    raise ValueError("the result does not fit in 4096 bytes")


def write_result(result, path):
    with open(path, "w", encoding="utf-8") as out:
        out.write(termination_message(result))
