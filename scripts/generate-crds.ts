/**
 * Generates the CustomResourceDefinitions in `crds/` from the zod schemas in operator/src/api.
 *
 *   tsx scripts/generate-crds.ts          write crds/*.yaml (and delete stale generated files)
 *   tsx scripts/generate-crds.ts --check  exit 1, with a summary of what differs, if the
 *                                         checked-in files are not what would be generated
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crdFileName, renderCrdYaml } from '../operator/src/api/crd.js';
import { allKinds } from '../operator/src/api/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const crdDir = path.join(repoRoot, 'crds');
const GENERATED_FILE = /^lathe\.dev_.*\.yaml$/;

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The first lines where `actual` and `expected` differ, as a short readable summary. */
function diffSummary(actual: string, expected: string, maxLines = 8): string {
  const a = actual.split('\n');
  const e = expected.split('\n');
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, e.length) && out.length < maxLines * 2; i++) {
    if (a[i] !== e[i]) {
      out.push(
        `    line ${i + 1}:`,
        `      - ${a[i] ?? '<missing>'}`,
        `      + ${e[i] ?? '<missing>'}`,
      );
    }
  }
  return out.join('\n');
}

function main(): number {
  const check = process.argv.includes('--check');
  const expected = new Map(allKinds.map((k) => [crdFileName(k), renderCrdYaml(k)]));
  const existing = readdirSync(crdDir).filter((f) => GENERATED_FILE.test(f));
  const problems: string[] = [];
  for (const [file, content] of expected) {
    const current = readIfExists(path.join(crdDir, file));
    if (current === content) continue;
    if (check) {
      problems.push(
        current === undefined
          ? `  crds/${file}: missing`
          : `  crds/${file}: differs\n${diffSummary(current, content)}`,
      );
    } else {
      writeFileSync(path.join(crdDir, file), content);
      console.log(`Wrote crds/${file}`);
    }
  }
  for (const file of existing.filter((f) => !expected.has(f))) {
    if (check) problems.push(`  crds/${file}: no kind generates it any more`);
    else {
      rmSync(path.join(crdDir, file));
      console.log(`Deleted stale crds/${file}`);
    }
  }
  if (problems.length > 0) {
    console.error(
      `The CRDs in crds/ are out of date with operator/src/api:\n${problems.join('\n')}\nRun "npm run generate" and commit the result.`,
    );
    return 1;
  }
  if (check) console.log(`crds/ is up to date (${expected.size} CRDs).`);
  return 0;
}

process.exitCode = main();
