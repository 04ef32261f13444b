/**
 * The web console in a real headless Chromium (Debian's, driven by playwright-core;
 * e2e/browser/), after the demo's loop has run in one namespace (e2e/testing/console-loop.ts:
 * a Dataset ingested, a model trained and promoted, served with some predictions, a worse
 * challenger rejected), with a second namespace of objects the viewer may not read.
 *
 * The viewer signs in with a token of a ServiceAccount that may read Lathe's kinds in the
 * first namespace only (`kubectl create token`). Each page loads with no console error, page
 * error or failed request; its cells are compared with what `kubectl get` prints (or the
 * object's JSON) for the same objects; links are followed by clicking them; nothing of the
 * other namespace appears anywhere; without a token there is no data. A screenshot of each
 * page is saved under `.lathe/test-artifacts/console/console-browser/` (docs/console.md).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleFleet } from '../bench/console-fleet.js';
import { ConsoleBrowser, describeProblems, type PageVisit } from '../e2e/browser/browser.js';
import { parseKubectlTable } from '../e2e/browser/kubectl-table.js';
import {
  createTestNamespace,
  deleteTestNamespace,
  installCrds,
  kubectlOrThrow,
} from '../e2e/cluster/testenv.js';
import { type ConsoleLoop, runConsoleLoop } from '../e2e/testing/console-loop.js';
import {
  type ConsoleProgram,
  createWithStatus,
  startConsoleProgram,
  stopConsoleProgram,
  viewerToken,
} from '../e2e/testing/console-program.js';
import { startTestManager, testClient, testControllers } from '../e2e/testing/controllers.js';
import type { Manager } from '../operator/src/runtime/manager.js';
import { consoleKinds } from './kinds.js';

let team: string;
let hidden: string;
let manager: Manager | undefined;
let loop: ConsoleLoop;
let program: ConsoleProgram | undefined;
let browser: ConsoleBrowser | undefined;
let token: string;
/** Names of the objects in the namespace the viewer may not read. */
let hiddenNames: string[];

/** The object's JSON as `kubectl get -o json` prints it. */
async function kubectlJson<T>(kind: string, name: string): Promise<T> {
  return JSON.parse(await kubectlOrThrow(['-n', team, 'get', kind, name, '-o', 'json'])) as T;
}

/** Asserts a visit went cleanly: HTTP 200 and no problem while loading. */
function expectClean(visit: PageVisit): void {
  expect(visit.problems, describeProblems(visit.problems)).toEqual([]);
  expect(visit.status).toBe(200);
}

/** Nothing of the hidden namespace in the page: not its name, not any object's. */
async function expectNothingHidden(page: Page): Promise<void> {
  const text = await page.content();
  expect(text).not.toContain(hidden);
  for (const name of hiddenNames) expect(text, name).not.toContain(name);
}

/**
 * A row's cells less those that move between two reads (ages and other times: `date` printer
 * columns) and the console's own HEALTH.
 */
function comparableCells(kind: string) {
  const descriptor = consoleKinds.find((k) => k.kind === kind)!.descriptor;
  const moving = new Set([
    'AGE',
    'HEALTH',
    ...descriptor.printerColumns.filter((c) => c.type === 'date').map((c) => c.name.toUpperCase()),
  ]);
  return (row: Record<string, string>) =>
    Object.fromEntries(Object.entries(row).filter(([column]) => !moving.has(column)));
}

/** The cells of `kind`'s rows in the page's object tables, by column, as shown. */
function tableRows(page: Page, kind: string): Promise<Record<string, string>[]> {
  return page.$$eval(`table[data-kind="${kind}"] tbody tr[data-kind="${kind}"]`, (rows) =>
    rows.map((row) =>
      Object.fromEntries(
        [...row.querySelectorAll('td[data-column]')].map((cell) => [
          cell.getAttribute('data-column')!.toUpperCase(),
          cell.textContent!.trim(),
        ]),
      ),
    ),
  );
}

beforeAll(async () => {
  await installCrds();
  team = await createTestNamespace('console-team');
  hidden = await createTestNamespace('console-hidden');
  // The other namespace's objects, with their statuses, written directly (no operator there).
  const others = consoleFleet(30, [hidden], new Date());
  await createWithStatus(testClient(), others);
  hiddenNames = others.map((o) => o.object.metadata?.name ?? '');
  manager = startTestManager(team, testControllers(), 'console-itest');
  loop = await runConsoleLoop(team);
  token = await viewerToken(team, 'viewer', [team]);
  program = await startConsoleProgram();
  browser = await ConsoleBrowser.launch('console browser');
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await stopConsoleProgram(program);
  await manager?.stop();
  await deleteTestNamespace(team);
  await deleteTestNamespace(hidden);
});

describe('the web console in a browser', () => {
  it('shows no data without a token: every page is the sign-in page', async () => {
    for (const path of ['/', '/decisions', '/lineage', `/objects/datasets/${team}/iris`]) {
      const response = await fetch(`${program!.base}${path}`);
      const body = await response.text();
      expect(response.status, path).toBe(401);
      expect(body, path).toContain('name="token"');
      expect(body, path).not.toContain('data-kind=');
      expect(body, path).not.toContain(loop.promoted);
      expect(body, path).not.toContain(hidden);
    }
    // A token the API server does not accept is no better than none.
    const forged = await fetch(`${program!.base}/`, {
      headers: { authorization: 'Bearer not-a-token' },
    });
    expect(forged.status).toBe(401);
    expect(await forged.text()).not.toContain(loop.promoted);
  });

  it('signs in with a token from kubectl create token and lands on home', async () => {
    const signIn = await browser!.visit(`${program!.base}/login`, 'sign-in');
    expectClean(signIn);
    await signIn.page.fill('textarea#token', token);
    const home = await browser!.follow('button[type="submit"]', 'home');
    expectClean(home);
    expect(new URL(home.page.url()).pathname).toBe('/');
    expect(await home.page.textContent('header .who')).toContain(
      `system:serviceaccount:${team}:viewer`,
    );
  });

  it('home shows the rows and cells kubectl get shows, and nothing of the other namespace', async () => {
    const home = await browser!.visit(`${program!.base}/`, 'home');
    expectClean(home);
    await expectNothingHidden(home.page);
    for (const kind of consoleKinds) {
      const expected = parseKubectlTable(
        await kubectlOrThrow(['-n', team, 'get', kind.plural]),
      ).map((row) => ({ NAMESPACE: team, ...row }));
      const shown = await tableRows(home.page, kind.kind);
      const comparable = comparableCells(kind.kind);
      expect(shown.map(comparable), kind.kind).toEqual(expected.map(comparable));
    }
    // The loop made one of each of these (a BatchPrediction it did not).
    for (const kind of ['Dataset', 'InferenceService', 'RetrainPolicy'])
      expect(await tableRows(home.page, kind), kind).toHaveLength(1);
    expect(await tableRows(home.page, 'ModelVersion')).toHaveLength(2);
    expect(await tableRows(home.page, 'TrainingJob')).toHaveLength(2);
  });

  it('follows links from home to each object’s page, which shows kubectl’s columns for it', async () => {
    const objects: [string, string][] = [
      ['Dataset', loop.dataset],
      ['TrainingJob', loop.runs[0]!],
      ['ModelVersion', loop.promoted],
      ['InferenceService', loop.service],
      ['RetrainPolicy', loop.policy],
    ];
    expectClean(await browser!.visit(`${program!.base}/`, 'home'));
    for (const [kind, name] of objects) {
      const visit = await browser!.follow(
        `table[data-kind="${kind}"] tr[data-name="${name}"] td[data-column="NAME"] a`,
        `object ${kind} ${name}`,
      );
      expectClean(visit);
      const plural = consoleKinds.find((k) => k.kind === kind)!.plural;
      expect(new URL(visit.page.url()).pathname).toBe(`/objects/${plural}/${team}/${name}`);
      const [row] = parseKubectlTable(await kubectlOrThrow(['-n', team, 'get', plural, name]));
      const shown = await visit.page.$$eval('dl.fields dd[data-column]', (cells) =>
        Object.fromEntries(
          cells.map((c) => [c.getAttribute('data-column')!.toUpperCase(), c.textContent!.trim()]),
        ),
      );
      // Every column kubectl prints (the page may show more: the wide ones).
      const expected = comparableCells(kind)(row!);
      const cells = Object.fromEntries(Object.keys(expected).map((c) => [c, shown[c]]));
      expect(cells, `${kind} ${name}`).toEqual(expected);
      await browser!.back();
    }
  });

  it('hides every object of a namespace the viewer may not read, even by its URL', async () => {
    const [dataset] = hiddenNames;
    for (const path of [`/objects/datasets/${hidden}/${dataset}`, `/?namespace=${hidden}`]) {
      const response = await fetch(`${program!.base}${path}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = await response.text();
      expect([200, 404], path).toContain(response.status);
      expect(body, path).not.toContain(`data-name="${dataset}"`);
      expect(body, path).not.toContain(`data-namespace="${hidden}`);
    }
    // A viewer with no rights at all sees no object of either namespace.
    const nobody = await viewerToken(team, 'nobody', []);
    const response = await fetch(`${program!.base}/`, {
      headers: { authorization: `Bearer ${nobody}` },
    });
    const body = await response.text();
    expect(response.status).toBe(200);
    expect(body).not.toContain('data-name=');
    expect(body).not.toContain(loop.promoted);
    for (const name of hiddenNames) expect(body).not.toContain(name);
  });
});
