import { describe, expect, it } from 'vitest';
import { permissionsOf, type Verdicts, VisibleObjects } from '../access.js';
import { staticConsoleCache } from '../cache.js';
import type { Html } from '../html.js';
import { consoleKinds } from '../kinds.js';
import type { PageContext, Rendered } from '../routes.js';
import { loop } from '../testdata/loop.js';
import { decisionsPage } from './decisions.js';
import { homePage } from './home.js';
import { lineagePage } from './lineage.js';
import { objectPage } from './object.js';

const cache = staticConsoleCache({
  dataset: loop.datasets,
  trainingJob: loop.trainingJobs,
  modelVersion: loop.modelVersions,
  inferenceService: loop.inferenceServices,
  retrainPolicy: loop.retrainPolicies,
});

function context(
  namespaces: string[],
  query = '',
  params: Record<string, string> = {},
): PageContext {
  const verdicts = Object.fromEntries(
    consoleKinds.map((k) => [k.key, new Set(namespaces)]),
  ) as unknown as Verdicts;
  return {
    viewer: { username: 'v', groups: [] },
    objects: new VisibleObjects(cache, permissionsOf(verdicts), ['team-a']),
    namespace: undefined,
    params,
    query: new URLSearchParams(query),
    runRecords: undefined,
    serving: undefined,
    now: new Date('2026-12-07T13:00:00Z'),
  };
}

async function text(rendered: Html | Rendered | Promise<Html | Rendered>): Promise<string> {
  const r = await rendered;
  return 'body' in r ? r.body.text : r.text;
}

describe('the pages', () => {
  it('Home lists what needs attention first', async () => {
    const body = await text(homePage.render(context(['team-a'])));
    const attention = body.slice(
      body.indexOf('id="attention-table"'),
      body.indexOf('</table>', body.indexOf('id="attention-table"')),
    );
    expect(attention).toContain('data-name="iris"');
    expect(attention).toContain('ServerCrashing');
    expect(attention).toContain('DriftAboveThreshold');
    expect(body).toMatch(/data-name="iris-v2">[\s\S]*?data-column="Accuracy"[^>]*>0\.97</);
  });

  it('Lineage chains data, run, version and serving', async () => {
    const body = await text(lineagePage.render(context(['team-a'], 'model=iris')));
    expect(body).toMatch(
      /data-model-version="iris-v2"[\s\S]*abcdef012345[\s\S]*iris-retrain-drift-1[\s\S]*drift psi &gt; 0\.2[\s\S]*production[\s\S]*data-field="trafficPercent">75</,
    );
    expect(await text(lineagePage.render(context(['team-a'], 'model=other')))).toContain(
      'No models to show.',
    );
  });

  it('the decision log shows inputs, thresholds and outcome, and filters by action', async () => {
    const body = await text(decisionsPage.render(context(['team-a'])));
    expect(body).toContain('data-action="Challenger promoted"');
    expect(body).toContain('maximize accuracy, better by at least 0.01');
    const held = await text(decisionsPage.render(context(['team-a'], 'action=Rollout held')));
    expect(held).toContain('data-action="Rollout held"');
    expect(held).not.toContain('data-action="Retrain started"');
  });

  it('pages show nothing of a namespace the viewer may not get', async () => {
    for (const page of [homePage, lineagePage, decisionsPage]) {
      const body = await text(page.render(context([])));
      expect(body).not.toContain('iris-v2');
      expect(body).not.toContain('iris-retrain');
    }
    await expect(
      Promise.resolve().then(() =>
        objectPage.render(
          context([], '', { kind: 'modelversions', namespace: 'team-a', name: 'iris-v2' }),
        ),
      ),
    ).rejects.toThrow('No modelversions team-a/iris-v2 that you may see.');
  });

  it('the object page shows every printer column and the conditions', async () => {
    const body = await text(
      objectPage.render(
        context(['team-a'], '', { kind: 'modelversions', namespace: 'team-a', name: 'iris-v2' }),
      ),
    );
    expect(body).toContain('data-column="Stage">production<');
    expect(body).toContain('data-condition="FairnessChecked"');
    expect(body).toContain('href="/models/team-a/iris"');
  });
});
