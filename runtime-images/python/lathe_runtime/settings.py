"""The runtime environment as settings, with every problem named at once (as
contract/runtime-env.ts parseEnv does): a trainer refuses an environment it cannot honour with
exit 2 and a result listing each bad variable, never a traceback about the first one."""

import json
import re

from . import contract


class EnvReader:
    """Reads variables of ``env`` and collects what is wrong with them; ``done()`` raises a
    ContractError naming them all."""

    def __init__(self, env):
        self.env = env
        self.problems = []

    def required(self, name):
        value = self.env.get(name, "")
        if not value:
            self.problems.append(f"{name}: required")
        return value

    def optional(self, name, default=None):
        return self.env.get(name) or default

    def s3_uri(self, name):
        value = self.required(name)
        if value:
            try:
                contract.parse_s3_uri(value)
            except ValueError:
                self.problems.append(f"{name}: must be an s3://<bucket>/<prefix>/ URI")
        return value

    def one_of(self, name, allowed):
        value = self.required(name)
        if value and value not in allowed:
            self.problems.append(f'{name}: must be {" or ".join(allowed)} (got "{value}")')
        return value

    def digest(self, name):
        value = self.required(name)
        if value and not re.fullmatch(r"sha256:[a-f0-9]{64}", value):
            self.problems.append(f"{name}: must be sha256:<64 lowercase hex digits>")
        return value

    def json_object(self, name):
        try:
            value = json.loads(self.env.get(name) or "{}")
            if not isinstance(value, dict):
                raise ValueError("not an object")
            return value
        except ValueError as error:
            self.problems.append(f"{name}: not a JSON object ({error})")
            return {}

    def number(self, name, value, kind=float):
        """``kind(value)``, or None with a problem naming ``name``."""
        try:
            return kind(value)
        except (TypeError, ValueError):
            self.problems.append(f'{name}: not a number (got "{value}")')
            return None

    def extras(self):
        """``spec.hyperparameters.extra``: ``LATHE_HP_<NAME>`` as {name in lower case: text}."""
        prefix = contract.EXTRA_HYPERPARAMETER_PREFIX
        return {k[len(prefix):].lower(): v for k, v in self.env.items() if k.startswith(prefix)}

    def fail(self, problem):
        self.problems.append(problem)

    def done(self):
        if self.problems:
            raise contract.ContractError("InternalError", "Invalid environment:\n" +
                                         "\n".join(f"  - {p}" for p in self.problems))


class ObjectStoreSettings:
    """The object store's endpoint and the pod's credentials (runtime-env.ts ObjectStoreEnv)."""

    def __init__(self, read):
        self.endpoint = read.required(contract.OBJECT_STORE_ENDPOINT)
        if self.endpoint and not self.endpoint.startswith(("http://", "https://")):
            read.fail(f"{contract.OBJECT_STORE_ENDPOINT}: must be an http(s) URL")
        self.access_key = read.required(contract.OBJECT_STORE_ACCESS_KEY)
        self.secret_key = read.required(contract.OBJECT_STORE_SECRET_KEY)
        # Temporary credentials scoped to this run; the directory holds their rotations.
        self.session_token = read.optional(contract.OBJECT_STORE_SESSION_TOKEN)
        self.credentials_dir = read.optional(contract.OBJECT_STORE_CREDENTIALS_DIR)
        self.region = read.optional(contract.OBJECT_STORE_REGION, "us-east-1")


class TrainSettings(ObjectStoreSettings):
    """A training run's settings (runtime-env.ts TrainEnv). A trainer subclasses it and checks
    its own hyperparameters in ``check(read)``, adding problems to ``read``."""

    def __init__(self, env):
        read = EnvReader(env)
        super().__init__(read)
        self.dataset_uri = read.s3_uri(contract.DATASET_URI)
        self.dataset_version = read.required(contract.DATASET_VERSION)
        self.output_uri = read.s3_uri(contract.OUTPUT_URI)
        self.run_uri = read.s3_uri(contract.RUN_URI)
        self.task = read.one_of(contract.TASK, ("classification", "regression"))
        self.hyperparameters = read.json_object(contract.HYPERPARAMETERS)
        self.extra = read.extras()
        self.check(read)
        read.done()

    def check(self, read):
        """The trainer's own checks; none by default."""


class EvaluateSettings(ObjectStoreSettings):
    """The evaluate mode's settings (runtime-env.ts EvaluateEnv, with LATHE_TASK)."""

    def __init__(self, env):
        read = EnvReader(env)
        super().__init__(read)
        self.model_uri = read.s3_uri(contract.EVALUATE_MODEL_URI)
        self.model_digest = read.digest(contract.EVALUATE_MODEL_DIGEST)
        self.dataset_uri = read.s3_uri(contract.DATASET_URI)
        self.task = read.one_of(contract.TASK, ("classification", "regression"))
        # spec.fairness of the challenger (JSON), when the evaluation should compute group metrics.
        self.fairness = read.optional(contract.FAIRNESS)
        self.pii_key = None
        key = env.get(contract.PII_KEY) or ""
        if key:
            if re.fullmatch(r"[0-9a-f]{64}", key):
                self.pii_key = bytes.fromhex(key)
            else:
                read.fail(f"{contract.PII_KEY}: must be 64 lowercase hex digits")
        read.done()
