"""python -m lathe_pytorch [evaluate]: one training run (no argument) or one evaluation of an
ONNX artifact (``evaluate``); exit 0 on success, 1 on a failed run (75 when a retry can help),
2 on an invalid environment or arguments. The result goes to LATHE_RESULT_PATH (the pod's
termination message).

Training hyperparameters come from LATHE_HYPERPARAMETERS (epochs, batchSize, learningRate,
optimizer, validationSplit, earlyStopping, seed) and the architecture from
spec.hyperparameters.extra: LATHE_HP_LAYERS ("64,32"), LATHE_HP_ACTIVATION (relu, tanh,
sigmoid, elu, selu), LATHE_HP_DROPOUT (0-0.9). With GPUs (LATHE_GPUS > 0 and CUDA present) it
trains on cuda:LOCAL_RANK.

Distributed (``distributed.py``): a pod with PET_NNODES x PET_NPROC_PER_NODE > 1 starts torchrun
itself, which starts this module once per process; under torchrun (or with WORLD_SIZE > 1 and
RANK) the process joins the group and trains its share. Rank 0 writes progress, history and the
artifact; each pod's local rank 0 writes the pod's result (the same on every pod); a failing rank
logs its failure and exits non-zero, and torchrun stops the others.
"""

import os
import sys

from lathe_runtime import contract
from lathe_runtime.program import run_program

from .distributed import (
    join_group,
    leave_group,
    placement_of,
    relaunch_under_torchrun,
    torchrun_needed,
    use_gpu_for,
)
from .train import Settings, log, run_training


def _refuse(kind, message, env):
    log("error", "Refused the environment", error=message)
    contract.write_result({"kind": kind, "outcome": "failed", "reason": "InternalError", "message": message},
                          env.get(contract.RESULT_PATH) or contract.DEFAULT_RESULT_PATH)
    return contract.EXIT_INVALID_ENVIRONMENT


def train_main(env):
    try:
        placement = placement_of(env)
    except ValueError as error:
        return _refuse("train", f"Invalid environment:\n  - {error}", env)

    def run(settings):
        device = join_group(placement, use_gpu_for(env))
        try:
            return run_training(settings, placement, device)
        finally:
            leave_group(placement)

    # One result per pod: its local rank 0 writes it; other local ranks report through their log.
    result_env = env if placement.node_leader else {**env, contract.RESULT_PATH: os.devnull}
    return run_program("train", log, Settings, run, result_env)


def main(args=None, env=None):
    args = sys.argv[1:] if args is None else args
    env = os.environ if env is None else env
    if args == []:
        if torchrun_needed(env):
            relaunch_under_torchrun(["--module", "lathe_pytorch", *args])
        return train_main(env)
    if args == ["evaluate"]:
        from .evaluate import evaluate_main

        return evaluate_main(env)
    return _refuse("train", f'Invalid arguments {args!r}: expected none (train) or "evaluate"', env)


if __name__ == "__main__":
    sys.exit(main())
