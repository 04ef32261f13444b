"""Test harness: ``python run_on_directory.py ROOT [evaluate]`` runs the PyTorch trainer with
its object store replaced by the directory ROOT (``s3://bucket/key`` is ``ROOT/bucket/key``), the
rest of the environment as given. With PET_* variables asking for several processes it starts torchrun on itself, as the
program does (``distributed.py``), and each process is one rank of a distributed run. Not part
of the image."""

import os
import sys


class DirectoryStore:
    def __init__(self, root):
        self.root = root

    def read(self, bucket, key):
        try:
            with open(os.path.join(self.root, bucket, key), "rb") as f:
                return f.read()
        except FileNotFoundError as error:
            raise FileNotFoundError(f"s3://{bucket}/{key}") from error

    def write(self, bucket, key, data, content_type="application/octet-stream"):
        path = os.path.join(self.root, bucket, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".partial", "wb") as f:
            f.write(data)
        os.replace(path + ".partial", path)


if __name__ == "__main__":
    root, *args = sys.argv[1:]
    from lathe_pytorch.distributed import relaunch_under_torchrun, torchrun_needed

    if args == [] and torchrun_needed(os.environ):
        relaunch_under_torchrun([os.path.abspath(__file__), root])
    store = DirectoryStore(root)
    from lathe_pytorch import __main__ as program
    from lathe_pytorch import evaluate, train

    train.Store = evaluate.Store = lambda settings: store
    sys.exit(program.main(args))
