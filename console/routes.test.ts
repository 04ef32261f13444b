import { describe, expect, it } from 'vitest';
import { html } from './html.js';
import { pages } from './pages/index.js';
import { checkPages, matchPage, type Page } from './routes.js';

const page = (path: string): Page => ({ path, title: path, render: () => html`` });

describe('matchPage', () => {
  const registry = [page('/'), page('/objects/:kind/:namespace/:name'), page('/lineage')];
  it.each([
    ['/', '/', {}],
    ['/lineage', '/lineage', {}],
    ['/lineage/', '/lineage', {}],
    [
      '/objects/datasets/a/iris%2Dv1',
      '/objects/:kind/:namespace/:name',
      { kind: 'datasets', namespace: 'a', name: 'iris-v1' },
    ],
  ])('matches %s', (path, pattern, params) => {
    const match = matchPage(registry, path);
    expect(match?.page.path).toBe(pattern);
    expect(match?.params).toEqual(params);
  });

  it.each(['/objects/datasets/a', '/nowhere', '/objects/a/b/%E0%A4%A'])(
    'finds nothing at %s',
    (path) => {
      expect(matchPage(registry, path)).toBeUndefined();
    },
  );
});

describe('checkPages', () => {
  it('refuses two pages with the same pattern', () => {
    expect(() => checkPages([page('/a/:x'), page('/a/:y')])).toThrow(
      'Pages /a/:x and /a/:y have the same path pattern',
    );
  });

  it("accepts the console's pages", () => {
    expect(() => checkPages(pages)).not.toThrow();
  });
});
