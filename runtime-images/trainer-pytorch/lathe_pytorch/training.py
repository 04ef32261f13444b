"""The training loop, one process or one rank of DistributedDataParallel, with the same
semantics as Lathe's TensorFlow.js trainer (runtime-images/trainer/train.ts): a seeded
validation hold-out (``validationSplit``), per-epoch loss and metrics (``accuracy``,
``val_loss``, ``val_accuracy``), early stopping that restores the best epoch's weights, and a
regression label standardised while training and folded back into the last layer.

Distributed, every rank holds the whole (small, tabular) train split and ``DistributedSampler``
hands it a strided share of each epoch's seeded permutation; ``batchSize`` is the *global* batch
(examples per gradient step, as the hyperparameter says), split evenly across ranks. Since the
sampler's permutation is the same for any world size and DDP averages the ranks' gradients, a
step on W ranks sees the same examples as the single process's step, so the runs converge alike
(only the padding of the last, uneven batch and float summation order differ). Epoch losses and
counts are all-reduced, so every rank reports the global figures; the validation split is scored
on every rank (the replicas hold the same weights), and rank 0's early-stopping decision is
broadcast so that every rank leaves the loop at the same epoch.
"""

import math
import time
from dataclasses import dataclass, field

from .network import build_network, fold_target_scaling, monitorable_metrics


class TrainingError(Exception):
    """The run cannot train (TrainingFailed): the message says why and what to change."""


@dataclass
class Outcome:
    network: object
    history: list = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    train_rows: int = 0
    validation_rows: int = 0
    seconds: float = 0.0


def improves_upwards(monitor):
    """Accuracy improves up, losses down (Keras' ``auto`` mode, as train.ts)."""
    return "acc" in monitor


def monitored_value(record, monitor):
    if monitor == "loss":
        return record["loss"]
    if monitor == "val_loss":
        return record.get("valLoss")
    return record["metrics"].get(monitor)


def _optimizer(name, parameters, learning_rate):
    import torch

    return {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop,
            "adagrad": torch.optim.Adagrad}[name](parameters, lr=learning_rate)


def train_network(x, y, task, outputs, hp, placement, device, on_epoch=None):
    """Fits an MLP to ``x`` (rows x features, float) and ``y`` (class indices or values); see the
    module header. ``on_epoch(record)`` is called on rank 0 after each epoch. Returns an
    ``Outcome`` whose network is on the CPU, in eval mode, predicting in the label's units."""
    import numpy as np
    import torch
    import torch.distributed as dist
    from torch import nn
    from torch.utils.data.distributed import DistributedSampler

    rows = len(y)
    # The hold-out is drawn from the seed alone, so every rank holds out the same rows.
    order = np.random.default_rng(hp.seed).permutation(rows)
    validation_rows = int(math.floor(rows * hp.validation_split))
    train_rows = rows - validation_rows
    if train_rows < placement.world_size:
        raise TrainingError(f"validationSplit {hp.validation_split} leaves {train_rows} rows to train on "
                            f"(train.csv has {rows}), fewer than the {placement.world_size} processes")
    monitor = hp.early_stopping.monitor if hp.early_stopping else None
    monitorable = monitorable_metrics(task, validation_rows > 0)
    if monitor is not None and monitor not in monitorable:
        raise TrainingError(f"earlyStopping.monitor {monitor} is not computed by this run: choose one of "
                            f"{', '.join(monitorable)}"
                            f"{' (val_* metrics need validationSplit > 0)' if validation_rows == 0 else ''}")

    classification = task == "classification"
    features = torch.as_tensor(x, dtype=torch.float32)
    if classification:
        labels = torch.as_tensor(y, dtype=torch.int64)
        mean, std = 0.0, 1.0
    else:
        train_values = y[order[:train_rows]]
        mean = float(train_values.mean())
        std = float(train_values.std()) or 1.0
        labels = torch.as_tensor((y - mean) / std, dtype=torch.float32).reshape(-1, 1)
    train_index = torch.as_tensor(order[:train_rows])
    train_x, train_y = features[train_index].to(device), labels[train_index].to(device)
    validation_index = torch.as_tensor(order[train_rows:])
    val_x, val_y = features[validation_index].to(device), labels[validation_index].to(device)
    # Losses are reported in the label's units: the standardised MSE times the variance.
    loss_scale = std ** 2

    torch.manual_seed(hp.seed)
    network = build_network(x.shape[1], outputs, hp).to(device)
    model = network
    if placement.distributed:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(network, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = _optimizer(hp.optimizer, model.parameters(), hp.learning_rate)
    loss_of = nn.CrossEntropyLoss(reduction="sum") if classification else nn.MSELoss(reduction="sum")
    sampler = DistributedSampler(range(train_rows), num_replicas=placement.world_size, rank=placement.rank,
                                 shuffle=True, seed=hp.seed)
    local_batch = max(1, hp.batch_size // placement.world_size)

    def global_sums(*values):
        totals = torch.tensor(values, dtype=torch.float64, device=device)
        if placement.distributed:
            dist.all_reduce(totals)
        return totals.tolist()

    history = []
    best = None
    wait = 0
    stopped_early = False
    started = time.monotonic()
    for epoch in range(1, hp.epochs + 1):
        model.train()
        sampler.set_epoch(epoch)
        indices = torch.as_tensor(list(sampler), device=device)
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        for start in range(0, len(indices), local_batch):
            batch = indices[start:start + local_batch]
            out = model(train_x[batch])
            summed = loss_of(out, train_y[batch])
            optimizer.zero_grad(set_to_none=True)
            # The mean over the batch: DDP averages it across ranks into the global batch's mean.
            (summed / len(batch)).backward()
            optimizer.step()
            loss_sum += summed.detach().double()
            if classification:
                correct += (out.detach().argmax(dim=1) == train_y[batch]).sum()
        loss_total, correct_total, seen = global_sums(loss_sum.item(), correct.item(), len(indices))
        loss = loss_total / seen * loss_scale
        if not math.isfinite(loss):
            raise TrainingError(f"training diverged: the loss is {loss} at epoch {epoch}; lower learningRate "
                                f"(now {hp.learning_rate}) or check the data")
        record = {"epoch": epoch, "loss": loss, "metrics": {}}
        if classification:
            record["metrics"]["accuracy"] = correct_total / seen
        if validation_rows > 0:
            network.eval()
            with torch.no_grad():
                out = network(val_x)
                record["valLoss"] = float(loss_of(out, val_y)) / validation_rows * loss_scale
                if classification:
                    record["metrics"]["val_accuracy"] = float((out.argmax(dim=1) == val_y).sum()) / validation_rows
        history.append(record)
        if placement.leader and on_epoch:
            on_epoch(record)

        if hp.early_stopping:
            value = monitored_value(record, monitor)
            delta = hp.early_stopping.min_delta
            better = best is None or (value > best[0] + delta if improves_upwards(monitor) else value < best[0] - delta)
            if better:
                best = (value, epoch, {k: v.detach().clone() for k, v in network.state_dict().items()})
                wait = 0
            else:
                wait += 1
            stop = torch.tensor([1 if wait >= hp.early_stopping.patience else 0], device=device)
            if placement.distributed:
                dist.broadcast(stop, src=0)
            if stop.item():
                stopped_early = True
                break

    best_epoch = len(history)
    if best is not None and best[1] != len(history):
        network.load_state_dict(best[2])
        best_epoch = best[1]
    network = network.cpu().eval()
    if not classification:
        fold_target_scaling(network, mean, std)
    return Outcome(network, history, best_epoch, stopped_early, train_rows, validation_rows,
                   time.monotonic() - started)
