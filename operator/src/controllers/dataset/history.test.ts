import { describe, expect, it } from 'vitest';
import type { ListedObject } from '../../../../contract/object-store.js';
import { retention, type StoredVersion, storedVersionsOf } from './history.js';

const prefix = 'datasets/ns/iris/';
const v = (n: number) => n.toString(16).padStart(16, '0');
const stored = (n: number): StoredVersion => ({
  version: v(n),
  createdAt: `2026-06-0${n}T00:00:00Z`,
});
const listed = (key: string, at?: string): ListedObject => ({
  key,
  sizeBytes: 1,
  lastModified: at ? new Date(at) : undefined,
});

describe('storedVersionsOf', () => {
  it.each<{ name: string; objects: ListedObject[]; want: StoredVersion[] }>([
    {
      name: 'a version per manifest, newest first, at second precision',
      objects: [
        listed(`${prefix}${v(1)}/train.csv`, '2026-06-01T00:00:00Z'),
        listed(`${prefix}${v(1)}/manifest.json`, '2026-06-01T00:00:05.250Z'),
        listed(`${prefix}${v(2)}/manifest.json`, '2026-06-02T00:00:00Z'),
      ],
      want: [
        { version: v(2), createdAt: '2026-06-02T00:00:00Z' },
        { version: v(1), createdAt: '2026-06-01T00:00:05Z' },
      ],
    },
    {
      name: 'a version without its manifest is still being written: not a version',
      objects: [listed(`${prefix}${v(1)}/train.csv`, '2026-06-01T00:00:00Z')],
      want: [],
    },
    {
      name: 'keys that are not versions are ignored',
      objects: [
        listed(`${prefix}notes/manifest.json`, '2026-06-01T00:00:00Z'),
        listed(`${prefix}${v(1)}/nested/manifest.json`, '2026-06-01T00:00:00Z'),
        listed(`datasets/ns/iris-s3/${v(3)}/manifest.json`, '2026-06-01T00:00:00Z'),
      ],
      want: [],
    },
    {
      name: 'the same second: ordered by version',
      objects: [
        listed(`${prefix}${v(1)}/manifest.json`, '2026-06-01T00:00:00Z'),
        listed(`${prefix}${v(2)}/manifest.json`, '2026-06-01T00:00:00Z'),
      ],
      want: [
        { version: v(2), createdAt: '2026-06-01T00:00:00Z' },
        { version: v(1), createdAt: '2026-06-01T00:00:00Z' },
      ],
    },
  ])('$name', ({ objects, want }) => {
    expect(storedVersionsOf(prefix, objects)).toEqual(want);
  });
});

describe('retention', () => {
  const five = [5, 4, 3, 2, 1].map(stored);
  const names = (list: StoredVersion[]) => list.map((s) => s.version);

  it.each<{
    name: string;
    stored: StoredVersion[];
    current: string | undefined;
    limit: number;
    referenced: string[];
    history: string[];
    deletable: string[];
    kept?: string[];
  }>([
    {
      name: 'within the limit: nothing is deleted',
      stored: five,
      current: v(5),
      limit: 10,
      referenced: [],
      history: [v(5), v(4), v(3), v(2), v(1)],
      deletable: [],
    },
    {
      name: 'beyond the limit: the oldest go, oldest first',
      stored: five,
      current: v(5),
      limit: 2,
      referenced: [],
      history: [v(5), v(4)],
      deletable: [v(1), v(2), v(3)],
    },
    {
      name: 'a referenced version stays in the store, out of the history',
      stored: five,
      current: v(5),
      limit: 2,
      referenced: [v(2)],
      history: [v(5), v(4)],
      deletable: [v(1), v(3)],
      kept: [v(2)],
    },
    {
      name: 'an older current version (the data went back) leads the history and stays',
      stored: five,
      current: v(1),
      limit: 2,
      referenced: [],
      history: [v(1), v(5)],
      deletable: [v(2), v(3), v(4)],
    },
    {
      name: 'a current version missing from the listing is never deleted and the limit still holds',
      stored: five,
      current: v(9),
      limit: 2,
      referenced: [],
      history: [v(5), v(4)],
      deletable: [v(1), v(2), v(3)],
    },
    {
      name: 'no current version: the newest are kept',
      stored: five,
      current: undefined,
      limit: 1,
      referenced: [],
      history: [v(5)],
      deletable: [v(1), v(2), v(3), v(4)],
    },
    {
      name: 'an empty store',
      stored: [],
      current: v(1),
      limit: 1,
      referenced: [],
      history: [],
      deletable: [],
    },
    {
      name: 'the order of the listing does not matter',
      stored: [1, 3, 5, 2, 4].map(stored),
      current: v(5),
      limit: 3,
      referenced: [],
      history: [v(5), v(4), v(3)],
      deletable: [v(1), v(2)],
    },
  ])('$name', ({ stored: s, current, limit, referenced, history, deletable, kept }) => {
    const got = retention(s, current, limit, new Set(referenced));
    expect(names(got.history)).toEqual(history);
    expect(names(got.deletable)).toEqual(deletable);
    expect(names(got.referenced)).toEqual(kept ?? []);
  });

  it('never deletes the current version or one in the history, whatever the limit', () => {
    for (let limit = 1; limit <= 6; limit++) {
      for (const current of [undefined, v(1), v(3), v(5)]) {
        const got = retention(five, current, limit, new Set());
        const deleted = new Set(names(got.deletable));
        expect(deleted.has(current ?? '')).toBe(false);
        for (const h of got.history) expect(deleted.has(h.version)).toBe(false);
        expect(got.history.length + got.deletable.length).toBe(five.length);
      }
    }
  });
});
