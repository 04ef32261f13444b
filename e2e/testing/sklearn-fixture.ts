/**
 * What the trainers' integration tests share: scikit-learn's bundled data sets (in its wheel, no
 * download) as numeric tables, read by the scikit-learn trainer's Python environment (built by
 * `runtime-images/python/prepare-env.sh`, as the cluster tests' global setup does), and a way to
 * run a program and collect its exit code and output.
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { pythonEnvDir, pythonOf } from '../../runtime-images/python/env-dir.js';
import type { NumericTable } from '../../runtime-images/trainer/prepared-fixture.js';
import { repoRoot } from '../cluster/testenv.js';
import { pythonTrainerPath } from '../node/images.js';

export const sklearnDir = path.join(repoRoot, 'runtime-images/trainer-sklearn');
/** PYTHONPATH of `python -m lathe_sklearn`: the trainer and the shared `lathe_runtime`. */
export const sklearnPythonPath = pythonTrainerPath(sklearnDir);
/** The interpreter of the scikit-learn trainer's environment. */
export const python = pythonOf(
  pythonEnvDir('trainer-sklearn', path.join(sklearnDir, 'requirements.txt')),
);

/** Runs `command` from the repository root with `env` (plus PATH and HOME); never throws. */
export function runProgram(
  command: string,
  args: string[],
  env: Record<string, string>,
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      {
        cwd: repoRoot,
        env: { PATH: process.env.PATH ?? '', HOME: os.homedir(), ...env },
        maxBuffer: 64 << 20,
      },
      (error, stdout, stderr) => {
        resolve({
          code: typeof error?.code === 'number' ? error.code : error ? -1 : 0,
          stdout,
          stderr,
        });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** One of scikit-learn's bundled data sets as a numeric table. */
export async function sklearnDataset(
  name: 'iris' | 'breast_cancer' | 'diabetes',
): Promise<NumericTable> {
  const program = `
import json
from sklearn import datasets
d = getattr(datasets, "load_${name}")()
names = [str(n) for n in d.target_names] if "target_names" in d else None
print(json.dumps({"features": list(d.feature_names), "rows": d.data.tolist(),
                  "labels": [names[int(t)] for t in d.target] if names else d.target.tolist()}))
`;
  const { code, stdout, stderr } = await runProgram(python, ['-c', program], {});
  if (code !== 0) throw new Error(`reading scikit-learn's ${name} failed: ${stderr}`);
  const data = JSON.parse(stdout) as {
    features: string[];
    rows: number[][];
    labels: (string | number)[];
  };
  return {
    featureNames: data.features,
    rows: data.rows,
    labels: data.labels,
    labelName: name === 'diabetes' ? 'progression' : 'target',
    task: name === 'diabetes' ? 'regression' : 'classification',
  };
}
