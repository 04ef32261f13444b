/**
 * The serving page, `/serving/<namespace>/<name>`: one InferenceService's status and what the
 * console's sampler measured of it over time (`serving/`). An InferenceService the viewer may
 * not get is a 404.
 */
import { type Page, PageNotFound, type Rendered } from '../routes.js';
import { renderServing } from '../serving/serving-page.js';
import { servingView } from '../serving/serving-view.js';

export const servingPage: Page = {
  path: '/serving/:namespace/:name',
  title: 'Serving',
  render(ctx): Rendered {
    const namespace = ctx.params.namespace ?? '';
    const name = ctx.params.name ?? '';
    const isvc = ctx.objects.get('inferenceService', namespace, name);
    if (!isvc) throw new PageNotFound(`No InferenceService ${namespace}/${name} that you may see.`);
    const view = servingView(isvc, ctx.serving?.history(namespace, name));
    return { title: `Serving ${name}`, body: renderServing(view, ctx.now.getTime()) };
  },
};
