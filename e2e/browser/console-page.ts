/**
 * What the console's browser tests read on a page: the cells of its object tables by column
 * (`data-kind`, `data-column`: console/object-table.ts), exact numbers (`data-value`:
 * console/numbers.ts), and whether a page went cleanly. Test support only.
 */
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { consoleKinds } from '../../console/kinds.js';
import { describeProblems, type PageVisit } from './browser.js';

/** Asserts a visit went cleanly: HTTP 200 and no console error, page error or failed request. */
export function expectClean(visit: PageVisit): void {
  expect(visit.problems, describeProblems(visit.problems)).toEqual([]);
  expect(visit.status, visit.page.url()).toBe(200);
}

/**
 * A row's cells less those that move between two reads (ages and other times: the kind's
 * `date` printer columns) and the console's own HEALTH, for comparing with `kubectl get`.
 */
export function comparableCells(kind: string) {
  const descriptor = consoleKinds.find((k) => k.kind === kind)?.descriptor;
  if (!descriptor) throw new Error(`no console kind ${kind}`);
  const moving = new Set([
    'AGE',
    'HEALTH',
    ...descriptor.printerColumns.filter((c) => c.type === 'date').map((c) => c.name.toUpperCase()),
  ]);
  return (row: Record<string, string>) =>
    Object.fromEntries(Object.entries(row).filter(([column]) => !moving.has(column)));
}

/** The cells of `kind`'s rows in the page's object tables, by upper-cased column, as shown. */
export function tableRows(page: Page, kind: string): Promise<Record<string, string>[]> {
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

/** The text of the one element `selector` finds; fails naming the selector if none or several. */
export async function textOf(page: Page, selector: string): Promise<string> {
  const texts = await page.$$eval(selector, (els) => els.map((e) => e.textContent!.trim()));
  expect(texts, `${selector} on ${page.url()}`).toHaveLength(1);
  return texts[0]!;
}

/** The exact number (`data-value`) of the one element `selector` finds. */
export async function exactValue(page: Page, selector: string): Promise<number> {
  const values = await page.$$eval(selector, (els) => els.map((e) => e.getAttribute('data-value')));
  expect(values, `${selector} on ${page.url()}`).toHaveLength(1);
  expect(values[0], `${selector} data-value`).not.toBeNull();
  return Number(values[0]);
}
