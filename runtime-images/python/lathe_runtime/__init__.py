"""Lathe's runtime contract for Python trainers: what every Python image honouring it shares.

Lathe's TensorFlow.js trainer implements the contract in TypeScript (contract/, the source of
truth); a bring-your-own-framework trainer (scikit-learn, PyTorch) needs the same pieces in
Python: the environment's names and parsing (``contract``, ``settings``), the object store with
rotating credentials (``store``), reading a dataset version checked against its manifest
(``dataset``), the artifact manifest byte for byte (``manifest``), the metric keys of
contract/results.ts (``metrics``), the result written as the termination message
(``program``), and the record preparation's twin for the evaluate mode (``prepare``). The way
KServe's ``kserve`` package is to its model servers and Kubeflow Trainer's runtime images are to
their entry points: frameworks differ in how they fit and predict, not in how they talk to the
platform. Heavy imports (numpy, minio) happen inside the functions that need them, so the
contract and manifest parts run on a bare python3.
"""
