/**
 * Explanations, fairness and model cards through the whole loop on the local cluster (issue 22),
 * with every controller in-process and the real programs as pods.
 *
 * The table is a loan book whose decision depends on a sensitive column, `sex`, as well as on
 * income and debt (drawn independently of sex). Two Datasets read it: `blind` leaves `sex` out of
 * the features, `aware` keeps it; both name it sensitive. A model trained on `blind` cannot see
 * the groups, so its selection rates are close; one trained on `aware` learns the bias, and is
 * more accurate for it. A RetrainPolicy promotes the blind model (its rules pass), then refuses
 * the aware challenger although it beats it on accuracy: once by a rule against the champion
 * (judged on the challenger's split, with the champion scored there by an evaluation run), once
 * by its own threshold rule (FairnessChecked=False on its ModelVersion).
 *
 * The group metrics in the blind model's status are checked against an independent count: its
 * test rows sent through the Service's V1 predict, grouped by hand. `:explain` answers through
 * the Service on V1 and on the V2 path, with Shapley values that add up to the prediction, and a
 * bad explain request gets a 400 like predict.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../contract/seeded-random.js';
import {
  latheKinds,
  type ModelVersionObject,
  type RetrainPolicyObject,
} from '../../operator/src/controllers/lathe-kinds.js';
import { RUN_NOW_ANNOTATION } from '../../operator/src/controllers/retrainpolicy/desired.js';
import type { Manager } from '../../operator/src/runtime/manager.js';
import { builtin, type KubeObject } from '../../operator/src/runtime/resource.js';
import type { RowExplanation } from '../../runtime-images/server/explain.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
} from '../cluster/testenv.js';
import {
  startTestManager,
  testClient,
  testControllers,
  testStore,
} from '../testing/controllers.js';

const info = clusterInfo();
const { store } = testStore();
const client = testClient();
let namespace: string;
let manager: Manager | undefined;

/**
 * 1,000 loan decisions: income and debt independent of sex; approved when income − debt, moved
 * by +15 for M and −15 for F, plus noise, clears 30.
 */
function loanBook(): string {
  const random = seededRandom(22);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const lines = ['income,debt,sex,approved'];
  for (let i = 0; i < 1000; i++) {
    const sex = random() < 0.5 ? 'F' : 'M';
    const income = 50 + 15 * normal();
    const debt = 20 + 8 * normal();
    const score = income - debt + (sex === 'M' ? 15 : -15) + 4 * normal();
    lines.push(`${income.toFixed(2)},${debt.toFixed(2)},${sex},${score > 30 ? 'yes' : 'no'}`);
  }
  return `${lines.join('\n')}\n`;
}

const dataKey = () => `sources/${namespace}/loans.csv`;

function dataset(name: 'blind' | 'aware') {
  return {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'Dataset',
    metadata: { name, namespace },
    spec: {
      source: { s3: { bucket: info.minio.bucket, key: dataKey() } },
      schema: { label: 'approved' },
      ...(name === 'blind' ? { preparation: { drop: ['sex'] } } : {}),
      fairness: { sensitiveColumns: ['sex'] },
      split: { testFraction: 0.3, seed: 3 },
    },
  };
}

/** The policy's TrainingJob template: trained on `data`, judged by `rules`. */
function template(data: 'blind' | 'aware', rules: Record<string, unknown>[]) {
  return {
    spec: {
      datasetRef: { name: data },
      model: { builtin: { architecture: 'mlp', layers: [8] } },
      hyperparameters: { epochs: 40, batchSize: 32, learningRate: 0.02, seed: 5 },
      fairness: { positiveClass: 'yes', minGroupSize: 20, rules },
      modelCard: { intendedUse: 'Testing the fairness gate', owners: ['lathe-tests'] },
      modelName: 'loans',
    },
  };
}

const getPolicy = () =>
  client.get<RetrainPolicyObject>(latheKinds.retrainPolicy.resource, namespace, 'loans');
const getVersion = (name: string) =>
  client.get<ModelVersionObject>(latheKinds.modelVersion.resource, namespace, name);

/** Runs the policy now with `next` as its template; returns its decision on that run. */
async function decide(request: string, next: ReturnType<typeof template>) {
  await client.patch(latheKinds.retrainPolicy.resource, namespace, 'loans', 'json', [
    { op: 'replace', path: '/spec/template', value: next },
  ]);
  await client.patch(latheKinds.retrainPolicy.resource, namespace, 'loans', 'merge', {
    metadata: { annotations: { [RUN_NOW_ANNOTATION]: request } },
  });
  return eventually(
    async () => {
      const decision = (await getPolicy()).status?.lastPromotion;
      expect(decision?.time).toBeDefined();
      expect(seen.has(decision!.challenger.modelVersion)).toBe(false);
      seen.add(decision!.challenger.modelVersion);
      return decision!;
    },
    { what: `the decision on run ${request}`, timeoutMs: 300_000 },
  );
}
const seen = new Set<string>();

async function waitForDataset(name: string) {
  await eventually(
    async () => {
      const ds = await client.get<KubeObject>(latheKinds.dataset.resource, namespace, name);
      expect(JSON.stringify(ds.status)).toContain('"VersionAvailable"');
    },
    { what: `Dataset ${name} has a version`, timeoutMs: 120_000 },
  );
}

async function post(url: string, body: unknown) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  await installCrds();
  namespace = await createTestNamespace('fairness');
  await store.write(info.minio.bucket, dataKey(), loanBook());
  manager = startTestManager(namespace, testControllers(), 'fairness-itest');
  await client.create(latheKinds.dataset.resource, dataset('blind'));
  await client.create(latheKinds.dataset.resource, dataset('aware'));
  await waitForDataset('blind');
  await waitForDataset('aware');
});

afterAll(async () => {
  await manager?.stop();
  if (!process.env.KEEP) await deleteTestNamespace(namespace);
});

describe('explanations, fairness and model cards', () => {
  let blindVersion: string;

  it('promotes a model whose rules pass, and refuses a more accurate one that fails them', async () => {
    await client.create(latheKinds.retrainPolicy.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'RetrainPolicy',
      metadata: { name: 'loans', namespace },
      spec: {
        template: template('blind', [{ metric: 'demographicParityRatio', op: '>=', value: 0.6 }]),
        // Runs are asked for by hand; the schedule (once a year) only satisfies the API.
        triggers: { schedule: { cron: '0 0 1 1 *' } },
        promotion: { metric: 'accuracy', direction: 'maximize', minImprovement: 0.01 },
      },
    });
    const first = await decide(
      'blind',
      template('blind', [{ metric: 'demographicParityRatio', op: '>=', value: 0.6 }]),
    );
    expect(first.decision, first.reason).toBe('Promoted');
    expect(first.reason).toMatch(/fairness gate passed/);
    blindVersion = first.challenger.modelVersion;
    const blind = await eventually(
      async () => {
        const mv = await getVersion(blindVersion);
        expect(mv.status?.fairness?.verdict).toBe('Passed');
        return mv;
      },
      { what: 'the blind version’s fairness in status' },
    );
    expect(blind.status?.conditions?.find((c) => c.type === 'FairnessChecked')).toMatchObject({
      status: 'True',
      reason: 'RulesPassed',
    });
    expect(blind.status?.importance?.columns.map((c) => c.column).sort()).toEqual([
      'debt',
      'income',
    ]);
    expect(blind.status?.modelCard).toMatchObject({
      intendedUse: 'Testing the fairness gate',
      datasetVersion: blind.spec.lineage?.dataset.version,
    });

    // Against the champion: the aware model is more accurate, passes its own lenient bound, and
    // is far less fair than the champion on the same (its own) split: refused.
    const second = await decide(
      'aware-vs-champion',
      template('aware', [
        { metric: 'demographicParityRatio', op: '>=', value: 0.05 },
        { metric: 'demographicParityRatio', noWorseThanChampionBy: 0.2 },
      ]),
    );
    expect(second.decision, second.reason).toBe('Rejected');
    expect(second.champion?.modelVersion).toBe(blindVersion);
    expect(second.challenger.value).toBeGreaterThan(second.champion!.value + 0.01);
    expect(second.reason).toMatch(
      /^fairness gate failed: .*demographicParityRatio.*against the champion's .*worse by/,
    );

    // Its own threshold: FairnessChecked=False on the ModelVersion, and refused for it.
    const third = await decide(
      'aware-threshold',
      template('aware', [{ metric: 'demographicParityRatio', op: '>=', value: 0.6 }]),
    );
    expect(third.decision, third.reason).toBe('Rejected');
    expect(third.reason).toMatch(
      /^fairness gate failed: .*demographicParityRatio for sex is 0\.\d+, below 0\.6/,
    );
    const aware = await getVersion(third.challenger.modelVersion);
    expect(aware.status?.conditions?.find((c) => c.type === 'FairnessChecked')).toMatchObject({
      status: 'False',
      reason: 'RulesFailed',
    });
    expect(aware.status?.importance?.columns[0]?.column).toBe('sex');
    const production = (
      await client.list<ModelVersionObject>(latheKinds.modelVersion.resource, { namespace })
    ).items.filter((mv) => mv.spec.stage === 'production');
    expect(production.map((mv) => mv.metadata.name)).toEqual([blindVersion]);
  }, 900_000);

  it('reports group metrics that match an independent count of the served predictions, and explains them', async () => {
    expect(blindVersion).toBeDefined();
    await client.create(latheKinds.inferenceService.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'InferenceService',
      metadata: { name: 'loans', namespace },
      spec: { model: { name: 'loans' } },
    });
    await eventually(
      async () => {
        const isvc = await client.get<KubeObject>(
          latheKinds.inferenceService.resource,
          namespace,
          'loans',
        );
        const ready = (
          isvc.status as { conditions?: { type: string; status: string }[] }
        )?.conditions?.find((c) => c.type === 'Ready');
        expect(ready?.status).toBe('True');
      },
      { what: 'loans served', timeoutMs: 180_000 },
    );
    const svc = await client.get<KubeObject>(builtin.service, namespace, 'loans');
    const base = `http://${(svc.spec as { clusterIP: string }).clusterIP}`;

    // The blind version's test split, raw, with the sensitive column kept for evaluation.
    const mv = await getVersion(blindVersion);
    const version = mv.spec.lineage!.dataset.version;
    const raw = (
      await store.read(info.minio.bucket, `datasets/${namespace}/blind/${version}/test.raw.jsonl`)
    )
      .toString('utf8')
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as { income: number; debt: number; sex: string; approved: string },
      );
    expect(raw.length).toBe(mv.status?.modelCard?.testRows);
    const predicted = await post(`${base}/v1/models/loans:predict`, {
      instances: raw.map(({ income, debt }) => ({ income, debt })),
    });
    expect(predicted.status).toBe(200);
    const labels = (predicted.body.predictions as { label: string }[]).map((p) => p.label);

    // Counted by hand, per group: selection rate, true and false positive rates, accuracy.
    for (const sex of ['F', 'M']) {
      const rows = raw.map((r, i) => ({ ...r, predicted: labels[i] })).filter((r) => r.sex === sex);
      const positives = rows.filter((r) => r.approved === 'yes');
      const negatives = rows.filter((r) => r.approved === 'no');
      const group = mv.status?.fairness?.groups?.find((g) => g.group === `sex=${sex}`);
      expect(group?.count).toBe(rows.length);
      expect(group?.judged).toBe(true);
      const rate = (subset: typeof rows) =>
        subset.filter((r) => r.predicted === 'yes').length / subset.length;
      expect(group?.selectionRate).toBeCloseTo(rate(rows), 3);
      expect(group?.truePositiveRate).toBeCloseTo(rate(positives), 3);
      expect(group?.falsePositiveRate).toBeCloseTo(rate(negatives), 3);
      expect(group?.accuracy).toBeCloseTo(
        rows.filter((r) => r.predicted === r.approved).length / rows.length,
        3,
      );
    }
    const rateOf = (sex: string) =>
      mv.status!.fairness!.groups!.find((g) => g.group === `sex=${sex}`)!.selectionRate!;
    const ratio = mv.status?.fairness?.disparities?.find(
      (d) => d.scope === 'sex',
    )?.demographicParityRatio;
    expect(ratio).toBeCloseTo(
      Math.min(rateOf('F'), rateOf('M')) / Math.max(rateOf('F'), rateOf('M')),
      3,
    );

    // V1 :explain: KServe's envelope, per-column values adding up to the prediction.
    const row = { income: 61.5, debt: 18.2 };
    const v1 = await post(`${base}/v1/models/loans:explain`, { instances: [row] });
    expect(v1.status).toBe(200);
    const single = await post(`${base}/v1/models/loans:predict`, { instances: [row] });
    expect(v1.body.predictions).toEqual(single.body.predictions);
    const [explanation] = v1.body.explanations as RowExplanation[];
    expect(explanation?.method).toBe('exact');
    expect(Object.keys(explanation!.values)).toEqual(['income', 'debt']);
    expect(explanation?.outputs).toEqual(['no', 'yes']);
    for (const [k] of explanation!.outputs.entries()) {
      const sum =
        explanation!.baseValue[k]! +
        explanation!.values.income![k]! +
        explanation!.values.debt![k]!;
      expect(sum).toBeCloseTo(explanation!.prediction[k]!, 4);
      expect(Math.abs(explanation!.residual[k]!)).toBeLessThan(1e-4);
    }
    // More income raises the chance of "yes" above the average applicant's.
    expect(explanation!.values.income![1]).toBeGreaterThan(0);

    // The V2 path (Lathe's extension): the /infer request, the /infer answer and explanations.
    const v2 = await post(`${base}/v2/models/loans/explain`, {
      inputs: [
        { name: 'income', shape: [1], datatype: 'FP64', data: [row.income] },
        { name: 'debt', shape: [1], datatype: 'FP64', data: [row.debt] },
      ],
    });
    expect(v2.status).toBe(200);
    expect(v2.body.outputs).toBeDefined();
    const [v2Explanation] = v2.body.explanations as RowExplanation[];
    for (const [k, value] of explanation!.values.income!.entries())
      expect(v2Explanation!.values.income![k]).toBeCloseTo(value, 6);

    // A bad explain request is refused like a bad predict.
    const bad = await post(`${base}/v1/models/loans:explain`, { instances: 'none' });
    expect(bad.status).toBe(400);
    const badPredict = await post(`${base}/v1/models/loans:predict`, { instances: 'none' });
    expect(badPredict.status).toBe(400);
  }, 300_000);
});
