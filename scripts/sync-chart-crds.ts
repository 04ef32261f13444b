/**
 * Copies the generated CRDs (crds/*.yaml) into the chart (charts/lathe/crds/), which Helm
 * installs before the chart's templates. A copy rather than a symlink: `helm package` does
 * not follow a symlinked directory into the archive, so a symlinked chart ships no CRDs.
 *
 *   tsx scripts/sync-chart-crds.ts          copy, and delete chart CRDs that no longer exist
 *   tsx scripts/sync-chart-crds.ts --check  exit 1, naming what differs, if the chart's copy
 *                                           is not identical to crds/
 */
import { copyFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = path.join(repoRoot, 'crds');
const chartDir = path.join(repoRoot, 'charts/lathe/crds');
const crdFile = /\.ya?ml$/;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => crdFile.test(f))
    .sort();
}

function main(): number {
  const check = process.argv.includes('--check');
  const source = yamlFiles(sourceDir);
  const chart = new Set(yamlFiles(chartDir));
  const problems: string[] = [];
  for (const file of source) {
    const wanted = readFileSync(path.join(sourceDir, file), 'utf8');
    const current = chart.has(file) ? readFileSync(path.join(chartDir, file), 'utf8') : undefined;
    if (current === wanted) continue;
    if (check)
      problems.push(
        `  charts/lathe/crds/${file}: ${current === undefined ? 'missing' : 'differs from crds/'}`,
      );
    else {
      copyFileSync(path.join(sourceDir, file), path.join(chartDir, file));
      console.log(`Copied crds/${file} to charts/lathe/crds/`);
    }
  }
  for (const file of [...chart].filter((f) => !source.includes(f))) {
    if (check) problems.push(`  charts/lathe/crds/${file}: not in crds/ any more`);
    else {
      rmSync(path.join(chartDir, file));
      console.log(`Deleted stale charts/lathe/crds/${file}`);
    }
  }
  if (problems.length > 0) {
    console.error(
      `The chart's CRDs are out of date with crds/:\n${problems.join('\n')}\n` +
        'Run "npx tsx scripts/sync-chart-crds.ts" and commit the result.',
    );
    return 1;
  }
  if (check) console.log(`charts/lathe/crds/ is up to date (${source.length} CRDs).`);
  return 0;
}

process.exitCode = main();
