"""``python -m lathe_pytorch.torchrun ARGS``: torchrun (``torch.distributed.run``), with its
arguments from PET_* as usual, made to work on Python 3.11 with PyTorch before 2.0.

PyTorch 1.13 (Debian bookworm's python3-torch) reads torchrun's ``--redirects``/``--tee``
values by iterating an ``IntFlag``, which on Python 3.11 no longer yields the zero and
composite members: the default ``0`` becomes None and torchrun fails before it starts a worker
("'NoneType' object has no attribute 'get'"; fixed upstream for 2.0, pytorch/pytorch#92319).
The value is looked up by number instead when the installed torch has the bug.
"""

import re


def _fix_std_parsing():
    from torch.distributed.elastic.multiprocessing import api

    if api.Std.from_str("0") is not None:
        return

    def from_str(cls, vm):
        if re.fullmatch(r"[0123]", vm):
            return cls(int(vm))
        if re.fullmatch(r"(\d:[0123],)*(\d:[0123])", vm):
            return {int(i): cls(int(v)) for i, v in (m.split(":") for m in vm.split(","))}
        raise ValueError(f"{vm} does not match <[0123]> or <(\\d:[0123],)*(\\d:[0123])>")

    api.Std.from_str = classmethod(from_str)


def main():
    _fix_std_parsing()
    from torch.distributed.run import main as run

    run()


if __name__ == "__main__":
    main()
