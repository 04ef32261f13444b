"""``progress.json`` and ``history.json`` of a training run (contract/results.ts
TrainingProgress, TrainingHistory), rewritten after every epoch for the operator to poll, as
runtime-images/trainer/run-files.ts does for the TensorFlow.js trainer: uploads never hold
training up (one thread writes, one write at a time), epochs that end meanwhile are folded
into the next write, which always carries the latest state, and ``flush`` waits for the last
one and raises the first upload error."""

import threading

from lathe_runtime import contract
from lathe_runtime.log import utc_now
from lathe_runtime.store import put_json


class RunReporter:
    def __init__(self, store, run_uri, total_epochs, backend, now=utc_now):
        self.store = store
        self.run_uri = run_uri
        self.total_epochs = total_epochs
        self.backend = backend
        self.now = now
        self.epochs = []
        self.failure = None
        self.dirty = False
        self.closed = False
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._upload_loop, name="run-files", daemon=True)
        self.thread.start()
        self.schedule()

    def epoch(self, record):
        """Records an epoch ({epoch, loss, valLoss?, metrics}) and schedules an upload."""
        with self.changed:
            self.epochs.append(record)
        self.schedule()

    def schedule(self):
        with self.changed:
            self.dirty = True
            self.changed.notify()

    def progress(self):
        last = self.epochs[-1] if self.epochs else None
        progress = {"epoch": last["epoch"] if last else 0, "totalEpochs": self.total_epochs}
        if last:
            progress["loss"] = last["loss"]
            if "valLoss" in last:
                progress["valLoss"] = last["valLoss"]
        progress.update(metrics=dict(last["metrics"]) if last else {}, backend=self.backend, updatedAt=self.now())
        return progress

    def flush(self):
        """Waits until the latest state is uploaded; raises the first upload error, if any."""
        with self.changed:
            self.closed = True
            self.changed.notify()
        self.thread.join()
        if self.failure:
            raise self.failure

    def _upload_loop(self):
        while True:
            with self.changed:
                while not self.dirty and not self.closed:
                    self.changed.wait()
                if not self.dirty:
                    return
                self.dirty = False
                history = {"epochs": list(self.epochs)}
                progress = self.progress()
            try:
                put_json(self.store, self.run_uri, contract.HISTORY_FILE, history)
                put_json(self.store, self.run_uri, contract.PROGRESS_FILE, progress)
            except Exception as error:  # kept for flush(); training goes on
                self.failure = self.failure or error
