"""Lathe's PyTorch trainer: the bring-your-own-framework example of the runtime contract for
PyTorch, single-process or DistributedDataParallel under torchrun.

It reads the same environment as Lathe's other trainers (contract/runtime-env.ts) through the
shared Python runtime package (runtime-images/python/lathe_runtime), trains an MLP on a prepared
dataset version, reports the same metric keys and per-epoch history, and writes an ONNX artifact
(contract/onnx-artifact.ts) that Lathe's inference server serves with ONNX Runtime.
"""
