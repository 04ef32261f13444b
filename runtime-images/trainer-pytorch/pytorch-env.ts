/**
 * The PyTorch trainer's Python environment as the TypeScript side uses it: where
 * `runtime-images/python/prepare-env.sh` builds it (Debian's python3-torch through
 * --system-site-packages, the pinned PyPI packages of `requirements.txt`), the module path its
 * image has (the trainer, then the shared `lathe_runtime`), and torch's own predictions of a
 * trained artifact's TorchScript, which the tests compare the served ONNX model with.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pythonEnvDir, pythonOf } from '../python/env-dir.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The trainer's directory (`runtime-images/trainer-pytorch`). */
export const pytorchTrainerDir = here;
export const pytorchRequirements = path.join(here, 'requirements.txt');

/** The environment's directory under the cache. */
export function pytorchEnvDir(env: NodeJS.ProcessEnv = process.env): string {
  return pythonEnvDir('trainer-pytorch', pytorchRequirements, env);
}

/** PYTHONPATH of the program: the trainer, then the shared runtime package, as its image has them. */
export const pytorchPythonPath = [here, path.join(here, '../python')].join(path.delimiter);

/**
 * Builds the environment when it is missing (seconds; cached), and returns its interpreter.
 * Fails naming what to install when the system has no PyTorch (`npm run cluster:prepare`
 * installs Debian's python3-torch as root).
 */
export async function preparePytorchEnv(): Promise<string> {
  const script = path.join(here, '../python/prepare-env.sh');
  try {
    const { stdout } = await promisify(execFile)(
      'bash',
      [script, 'trainer-pytorch', pytorchRequirements],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    return pythonOf(stdout.trim());
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`Preparing the PyTorch environment failed (${script}):\n${stderr}`, {
      cause: error,
    });
  }
}

/** torch's own outputs of a TorchScript `model.pt` on `rows` (its serving head's: probabilities or predictions). */
export async function torchscriptOutputs(
  python: string,
  modelFile: string,
  rows: number[][],
): Promise<number[][]> {
  const program = `
import json, sys
from lathe_pytorch.export import load_torchscript, predict
import numpy as np
rows = np.asarray(json.load(sys.stdin), dtype=np.float32)
model = load_torchscript(open(sys.argv[1], "rb").read())
print(json.dumps(predict(model, rows).tolist()))
`;
  const child = promisify(execFile)(python, ['-c', program, modelFile], {
    env: { ...process.env, PYTHONPATH: pytorchPythonPath },
    maxBuffer: 64 * 1024 * 1024,
  });
  child.child.stdin?.end(JSON.stringify(rows));
  return JSON.parse((await child).stdout) as number[][];
}

/**
 * torch's own outputs for raw `records` (objects keyed by column, as a client sends them): each
 * prepared by the artifact's `schema.json` with the Python twin of the record preparation
 * (`lathe_runtime.prepare`), then run through the artifact's TorchScript `model.pt`.
 */
export async function torchscriptOutputsForRecords(
  python: string,
  files: { schema: string; model: string },
  records: Record<string, unknown>[],
): Promise<number[][]> {
  const program = `
import json, sys
import numpy as np
from lathe_pytorch.export import load_torchscript, predict
from lathe_runtime.prepare import record_preparer
schema = json.load(open(sys.argv[1]))
prepare = record_preparer(schema)
rows = np.asarray([prepare(record) for record in json.load(sys.stdin)], dtype=np.float32)
model = load_torchscript(open(sys.argv[2], "rb").read())
print(json.dumps(predict(model, rows).tolist()))
`;
  const child = promisify(execFile)(python, ['-c', program, files.schema, files.model], {
    env: { ...process.env, PYTHONPATH: pytorchPythonPath },
    maxBuffer: 64 * 1024 * 1024,
  });
  child.child.stdin?.end(JSON.stringify(records));
  return JSON.parse((await child).stdout) as number[][];
}
