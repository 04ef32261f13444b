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
import { ConsoleBrowser } from '../e2e/browser/browser.js';
import {
  comparableCells,
  exactValue,
  expectClean,
  tableRows,
  textOf,
} from '../e2e/browser/console-page.js';
import { parseKubectlTable } from '../e2e/browser/kubectl-table.js';
import {
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
  kubectlOrThrow,
} from '../e2e/cluster/testenv.js';
import { type ConsoleLoop, predict, runConsoleLoop } from '../e2e/testing/console-loop.js';
import {
  type ConsoleProgram,
  createWithStatus,
  startConsoleProgram,
  stopConsoleProgram,
  viewerToken,
} from '../e2e/testing/console-program.js';
import { startTestManager, testClient, testControllers } from '../e2e/testing/controllers.js';
import type {
  InferenceServiceObject,
  ModelVersionObject,
  RetrainPolicyObject,
  TrainingJobObject,
} from '../operator/src/controllers/lathe-kinds.js';
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

/** Nothing of the hidden namespace in the page: not its name, not any object's. */
async function expectNothingHidden(page: Page): Promise<void> {
  const text = await page.content();
  expect(text).not.toContain(hidden);
  for (const name of hiddenNames) expect(text, name).not.toMatch(new RegExp(`[>"/]${name}[<"/?&]`));
}

/** GET `path` as the viewer (or with `bearer`), the body as text. */
async function get(path: string, bearer = token) {
  const response = await fetch(`${program!.base}${path}`, {
    headers: { authorization: `Bearer ${bearer}` },
  });
  return { status: response.status, body: await response.text() };
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
  // Sampled every 2 s, so the serving page has measured figures within the test.
  program = await startConsoleProgram({ env: { LATHE_CONSOLE_SAMPLE_INTERVAL_SECONDS: '2' } });
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

  it('lineage: data version → run → version (stage) → service (traffic), as the objects say', async () => {
    const mv = await browser!.visit(
      `${program!.base}/objects/modelversions/${team}/${loop.promoted}`,
      'object ModelVersion',
    );
    expectClean(mv);
    const visit = await browser!.follow(`a[href^="/lineage"]`, 'lineage');
    expectClean(visit);
    await expectNothingHidden(visit.page);
    const section = `section[data-namespace="${team}"][data-model="${loop.model}"]`;
    const isvc = await kubectlJson<InferenceServiceObject>('inferenceservice', loop.service);
    for (const name of [loop.promoted, loop.rejected]) {
      const row = `${section} tr[data-model-version="${name}"]`;
      const version = await kubectlJson<ModelVersionObject>('modelversion', name);
      const run = await kubectlJson<TrainingJobObject>(
        'trainingjob',
        version.spec.lineage!.trainingJob!.name,
      );
      expect(await textOf(visit.page, `${row} [data-field="datasetVersion"]`)).toBe(
        version.spec.lineage!.dataset.version,
      );
      expect(await textOf(visit.page, `${row} [data-field="phase"]`)).toBe(run.status!.phase);
      expect(await textOf(visit.page, `${row} [data-field="trigger"]`)).toBe('manual');
      expect(await textOf(visit.page, `${row} [data-field="version"]`)).toBe(
        String(version.spec.version),
      );
      expect(await textOf(visit.page, `${row} [data-field="stage"]`)).toBe(version.spec.stage);
    }
    const served = isvc.status!.servedVersions!.find((v) => v.modelVersion === loop.promoted)!;
    const serving = `${section} tr[data-model-version="${loop.promoted}"] [data-service="${loop.service}"]`;
    expect(await textOf(visit.page, `${serving} [data-field="trafficPercent"]`)).toBe(
      String(served.trafficPercent),
    );
    expect(await textOf(visit.page, `${serving} [data-field="readyReplicas"]`)).toBe(
      String(served.readyReplicas),
    );
    expect(await textOf(visit.page, `${serving} [data-field="role"]`)).toBe(served.role);
    expect(
      await visit.page.$$(`${section} tr[data-model-version="${loop.rejected}"] [data-service]`),
    ).toHaveLength(0);
  });

  it('model comparison: each version’s metrics and stage as kubectl holds them, then its run’s training curves', async () => {
    const mv = await browser!.visit(
      `${program!.base}/objects/modelversions/${team}/${loop.promoted}`,
      'object ModelVersion',
    );
    expectClean(mv);
    const visit = await browser!.follow(
      `a[href="/models/${team}/${loop.model}"]`,
      'model comparison',
    );
    expectClean(visit);
    await expectNothingHidden(visit.page);
    for (const name of [loop.promoted, loop.rejected]) {
      const version = await kubectlJson<ModelVersionObject>('modelversion', name);
      const n = version.spec.version;
      expect(Object.keys(version.spec.metrics ?? {})).toContain('accuracy');
      for (const [metric, value] of Object.entries(version.spec.metrics ?? {}))
        expect(
          await exactValue(visit.page, `td[data-metric="${metric}"][data-version="${n}"]`),
          `v${n} ${metric}`,
        ).toBe(value);
      expect(
        await textOf(visit.page, `tr[data-field="stage"] td[data-version="${n}"] [data-stage]`),
      ).toBe(version.spec.stage);
      expect(
        await textOf(
          visit.page,
          `tr[data-field="dataset"] td[data-version="${n}"] [data-dataset-version]`,
        ),
      ).toBe(version.spec.lineage!.dataset.version);
    }
    // The better version is starred on accuracy.
    const promoted = await kubectlJson<ModelVersionObject>('modelversion', loop.promoted);
    expect(
      await visit.page.getAttribute(
        `td[data-metric="accuracy"][data-version="${promoted.spec.version}"]`,
        'class',
      ),
    ).toContain('best');

    const run = promoted.spec.lineage!.trainingJob!.name;
    const training = await browser!.follow(`a[data-trainingjob="${run}"]`, 'training');
    expectClean(training);
    expect(new URL(training.page.url()).pathname).toBe(`/training/${team}/${run}`);
    const job = await kubectlJson<TrainingJobObject>('trainingjob', run);
    const progress = job.status!.progress!;
    expect(await textOf(training.page, '[data-field="phase"]')).toBe(job.status!.phase);
    expect(await exactValue(training.page, '[data-progress="epoch"]')).toBe(progress.epoch);
    expect(await exactValue(training.page, '[data-progress="totalEpochs"]')).toBe(
      progress.totalEpochs,
    );
    expect(await exactValue(training.page, '[data-progress="loss"]')).toBe(progress.loss);
    // One row per epoch of the run's history, the last one the loss the status reports.
    const epochs = Number(await training.page.getAttribute('#epochs-table', 'data-epochs'));
    expect(epochs).toBe(progress.epoch);
    expect(await training.page.$$('#epochs-table tr[data-epoch]')).toHaveLength(epochs);
    expect(
      await exactValue(
        training.page,
        `#epochs-table tr[data-epoch="${epochs}"] td[data-field="loss"]`,
      ),
    ).toBeCloseTo(progress.loss!, 6);
    expect(await training.page.$$('svg#loss-curve')).toHaveLength(1);
  });

  it('serving: the served versions as kubectl holds them, and the requests the console measured', async () => {
    const home = await browser!.visit(`${program!.base}/`, 'home');
    expectClean(home);
    await browser!.follow(
      `table[data-kind="InferenceService"] tr[data-name="${loop.service}"] td[data-column="NAME"] a`,
      'object InferenceService',
    );
    // Requests while the console samples, so that two samples see them.
    const sent = await predict(team, loop.service, 30);
    expect(sent).toBe(30);
    await eventually(
      async () => {
        const page = await get(`/serving/${team}/${loop.service}`);
        const rate = /data-measured="requestsPerSecond"[^>]*data-value="([^"]+)"/.exec(
          page.body,
        )?.[1];
        if (!(Number(rate) > 0)) throw new Error(`measured requests per second: ${rate}`);
      },
      { what: 'the console to measure the requests', timeoutMs: 60_000, intervalMs: 1_000 },
    );
    const visit = await browser!.follow(`a[href="/serving/${team}/${loop.service}"]`, 'serving');
    expectClean(visit);
    await expectNothingHidden(visit.page);
    const isvc = await kubectlJson<InferenceServiceObject>('inferenceservice', loop.service);
    expect(await exactValue(visit.page, 'dd[data-field="replicas"]')).toBe(isvc.status!.replicas);
    for (const served of isvc.status!.servedVersions!) {
      const row = `#served-versions tr[data-version="${served.version}"]`;
      expect(await textOf(visit.page, `${row} td[data-field="role"]`)).toBe(served.role);
      for (const field of ['replicas', 'readyReplicas', 'trafficPercent'] as const)
        expect(await exactValue(visit.page, `${row} td[data-field="${field}"]`), field).toBe(
          served[field],
        );
    }
    expect(await exactValue(visit.page, '[data-measured="requestsPerSecond"]')).toBeGreaterThan(0);
    expect(await exactValue(visit.page, '[data-measured="errorRate"]')).toBe(0);
    expect(
      Number(await visit.page.getAttribute('#sampling', 'data-samples')),
    ).toBeGreaterThanOrEqual(2);
  });

  it('decision log: both runs started, the first version promoted and the second rejected, with the policy’s reason', async () => {
    const home = await browser!.visit(`${program!.base}/`, 'home');
    expectClean(home);
    const visit = await browser!.follow('header nav a[href^="/decisions"]', 'decision log');
    expectClean(visit);
    await expectNothingHidden(visit.page);
    const policy = await kubectlJson<RetrainPolicyObject>('retrainpolicy', loop.policy);
    const rejected = `#decision-log tr[data-action="Challenger rejected"][data-subject="${loop.rejected}"]`;
    expect(await textOf(visit.page, `${rejected} [data-field="outcome"]`)).toBe(
      `Rejected: ${policy.status!.lastPromotion!.reason}`,
    );
    expect(
      await visit.page.$$(
        `#decision-log tr[data-action="Challenger promoted"][data-subject="${loop.promoted}"]`,
      ),
    ).toHaveLength(1);
    for (const run of loop.runs)
      expect(
        await visit.page.$$(
          `#decision-log tr[data-action="Retrain started"][data-subject="${run}"]`,
        ),
        run,
      ).toHaveLength(1);
  });

  it('hides every object of a namespace the viewer may not read, even by its URL', async () => {
    const [dataset] = hiddenNames;
    const model = 'model-0';
    for (const path of [
      `/objects/datasets/${hidden}/${dataset}`,
      `/models/${hidden}/${model}`,
      `/training/${hidden}/${model}-run-1`,
      `/serving/${hidden}/${model}`,
    ]) {
      const { status, body } = await get(path);
      expect(status, path).toBe(404);
      expect(body, path).not.toContain('data-value=');
    }
    for (const path of [
      `/?namespace=${hidden}`,
      `/lineage?namespace=${hidden}`,
      `/decisions?namespace=${hidden}`,
      '/',
      '/lineage',
      '/decisions',
    ]) {
      const { status, body } = await get(path);
      expect(status, path).toBe(200);
      expect(body, path).not.toContain(`data-namespace="${hidden}"`);
      for (const name of hiddenNames)
        expect(body, `${path}: ${name}`).not.toMatch(new RegExp(`[>"/]${name}[<"/?&]`));
    }
    // The same URLs show them to a viewer who may read that namespace: the 404s above are
    // the viewer's rights, not missing objects.
    const insider = await viewerToken(hidden, 'insider', [hidden]);
    for (const path of [`/objects/datasets/${hidden}/${dataset}`, `/models/${hidden}/${model}`]) {
      const { status, body } = await get(path, insider);
      expect(status, path).toBe(200);
      expect(body, path).toContain(hidden);
    }
    // A viewer with no rights at all sees no object of either namespace.
    const nobody = await viewerToken(team, 'nobody', []);
    const { status, body } = await get('/', nobody);
    expect(status).toBe(200);
    expect(body).not.toContain('data-name=');
    expect(body).not.toContain(loop.promoted);
    for (const name of hiddenNames) expect(body).not.toMatch(new RegExp(`[>"/]${name}[<"/?&]`));
  });
});
