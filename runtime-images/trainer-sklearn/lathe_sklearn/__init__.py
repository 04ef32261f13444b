"""Lathe's scikit-learn trainer: the bring-your-own-framework proof of the runtime contract.

It reads the same environment as Lathe's TensorFlow.js trainer (contract/
runtime-env.ts), trains a scikit-learn estimator on a prepared dataset version, reports the
same metric keys, and writes an artifact whose manifest.json has the canonical bytes the
operator verifies (contract/manifest.ts).
"""
