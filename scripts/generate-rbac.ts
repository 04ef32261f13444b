/**
 * Generates the chart's RBAC templates from the permissions the operator's code declares
 * (operator/src/rbac/ and the controllers' own lists):
 *
 *   charts/lathe/templates/clusterrole.yaml            the ClusterRole
 *   charts/lathe/templates/leader-election-role.yaml   the leader-election Role
 *
 *   tsx scripts/generate-rbac.ts          write the templates
 *   tsx scripts/generate-rbac.ts --check  exit 1, naming what differs, if the checked-in
 *                                         templates are not what would be generated
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderRbacTemplates } from '../operator/src/rbac/chart-templates.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function main(): number {
  const check = process.argv.includes('--check');
  const stale: string[] = [];
  for (const [relative, content] of Object.entries(renderRbacTemplates())) {
    const file = path.join(repoRoot, relative);
    const current = readIfExists(file);
    if (current === content) continue;
    if (check) {
      stale.push(`  ${relative}: ${current === undefined ? 'missing' : 'differs'}`);
    } else {
      writeFileSync(file, content);
      console.log(`Wrote ${relative}`);
    }
  }
  if (stale.length > 0) {
    console.error(
      `The chart's RBAC is out of date with the declared permissions:\n${stale.join('\n')}\n` +
        'Run "npx tsx scripts/generate-rbac.ts" and commit the result.',
    );
    return 1;
  }
  if (check) console.log("The chart's RBAC templates are up to date.");
  return 0;
}

process.exitCode = main();
