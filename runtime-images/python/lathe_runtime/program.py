"""A runtime program's outer shell: settings first (an invalid environment exits 2 with a
result naming every bad variable), then the run; every failure becomes a result with a reason
in the termination message and the exit code results.ts RuntimeExitCode gives it, never a bare
traceback (runtime-images/trainer/main.ts does the same for the TensorFlow.js trainer)."""

import os

from . import contract


def run_program(kind, log, read_settings, run, env=None):
    """Runs one ``kind`` (train, evaluate) run: ``read_settings(env)`` then ``run(settings)``,
    which returns the succeeded result or raises ContractError. Returns the exit code."""
    env = os.environ if env is None else env
    result_path = env.get(contract.RESULT_PATH) or contract.DEFAULT_RESULT_PATH
    try:
        settings = read_settings(env)
    except contract.ContractError as error:
        log("error", "Refused the environment", error=str(error))
        contract.write_result({"kind": kind, "outcome": "failed", "reason": error.reason,
                               "message": str(error)}, result_path)
        return contract.EXIT_INVALID_ENVIRONMENT
    try:
        result = run(settings)
    except contract.ContractError as error:
        log("error", f"The {kind} run failed", reason=error.reason, error=str(error))
        result = {"kind": kind, "outcome": "failed", "reason": error.reason, "message": str(error)}
    except Exception as error:  # anything else is a bug worth a clear result, not a traceback only
        log("error", f"The {kind} run failed", reason="InternalError", error=repr(error))
        result = {"kind": kind, "outcome": "failed", "reason": "InternalError", "message": repr(error)}
    contract.write_result(result, result_path)
    if result["outcome"] == "succeeded":
        return contract.EXIT_SUCCEEDED
    return contract.exit_code_for(result["reason"])
