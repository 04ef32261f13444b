/**
 * The training page, `/training/<namespace>/<name>`: one TrainingJob's status and its curves
 * per epoch from `runs/<namespace>/<name>/history.json` (`training/`), refreshed every few
 * seconds while the run is live. A TrainingJob the viewer may not get is a 404.
 */
import { type Page, PageNotFound, type Rendered } from '../routes.js';
import { historyReaderFor } from '../training/history-source.js';
import { renderTraining } from '../training/training-page.js';
import { isFinished, trainingView } from '../training/training-view.js';

export const trainingPage: Page = {
  path: '/training/:namespace/:name',
  title: 'Training',
  async render(ctx): Promise<Rendered> {
    const namespace = ctx.params.namespace ?? '';
    const name = ctx.params.name ?? '';
    const tj = ctx.objects.get('trainingJob', namespace, name);
    if (!tj) throw new PageNotFound(`No TrainingJob ${namespace}/${name} that you may see.`);
    const reader = historyReaderFor(ctx.runRecords);
    const read = reader ? await reader.read(namespace, name, isFinished(tj)) : undefined;
    const view = trainingView(tj, read);
    return {
      title: `Training ${name}`,
      body: renderTraining(view),
      ...(view.refreshSeconds !== undefined ? { refreshSeconds: view.refreshSeconds } : {}),
    };
  },
};
