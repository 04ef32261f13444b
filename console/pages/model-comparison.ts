/**
 * The model comparison page, `/models/<namespace>/<model>`: the ModelVersions of one model side
 * by side (`models/comparison.ts`), from the viewer's view of the cache, with the final and
 * best epochs of each version's run from the object store (`training/history-reader.ts`).
 *
 * A model is not an object: the page shows it if the viewer may get ModelVersions in the
 * namespace and one exists; otherwise it is a 404, like a model that does not exist. Runs'
 * histories are read only if the viewer may get TrainingJobs there too.
 */

import type { TrainingHistory } from '../../contract/results.js';
import type { ModelVersionObject } from '../../operator/src/controllers/lathe-kinds.js';
import { html } from '../html.js';
import { chosenVersions, modelComparisonView, parseComparisonQuery } from '../models/comparison.js';
import { renderModelComparison } from '../models/comparison-page.js';
import { type Page, type PageContext, PageNotFound, type Rendered } from '../routes.js';
import { historyReaderFor } from '../training/history-source.js';

async function histories(
  ctx: PageContext,
  namespace: string,
  shown: readonly ModelVersionObject[],
): Promise<Map<string, TrainingHistory | undefined>> {
  const found = new Map<string, TrainingHistory | undefined>();
  const reader = historyReaderFor(ctx.runRecords);
  if (!reader || !ctx.objects.allows('trainingJob', namespace)) return found;
  const jobs = [...new Set(shown.flatMap((mv) => mv.spec.lineage?.trainingJob?.name ?? []))];
  await Promise.all(
    jobs.map(async (job) => {
      // A registered version's run has finished, whether or not its TrainingJob still exists.
      const read = await reader.read(namespace, job, true);
      found.set(job, read.state === 'found' ? read.history : undefined);
    }),
  );
  return found;
}

export const modelComparisonPage: Page = {
  path: '/models/:namespace/:model',
  title: 'Model comparison',
  async render(ctx): Promise<Rendered> {
    const namespace = ctx.params.namespace ?? '';
    const model = ctx.params.model ?? '';
    const versions = ctx.objects
      .list('modelVersion', namespace)
      .filter((mv) => mv.spec.modelName === model);
    if (versions.length === 0) {
      throw new PageNotFound(`No versions of model ${model} in ${namespace} that you may see.`);
    }
    const query = parseComparisonQuery(ctx.query);
    const view = modelComparisonView({
      namespace,
      model,
      versions,
      histories: await histories(ctx, namespace, chosenVersions(versions, query).shown),
      query,
    });
    return { title: `Model ${model}`, body: html`${renderModelComparison(view)}` };
  },
};
