/**
 * The `versions` step: the Dataset's versions as the object store has them (listed through
 * `DatasetVersionStore`'s cache), the history status shows (`history.ts`) with each version's
 * row counts from its `stats.json`, and the current version — the newest run that succeeded
 * names it, else the newest version in the store. It also says where the Dataset stands:
 * Ready when a version of the current spec exists (`status.ts`, `datasetReadiness`).
 *
 * While the store cannot be reached it reports what is known (the cached listing, the current
 * version from its run), `Reconciling` with `StorageUnavailable`, and looks again shortly,
 * rather than failing the pass: a failure's backoff would grow through an outage and keep the
 * Dataset waiting minutes after the store is back. It reports no listing then, so the
 * `history` step deletes nothing.
 */
import type { Step } from '../../runtime/steps.js';
import type { DatasetObject } from '../lathe-kinds.js';
import { retention } from './history.js';
import {
  currentVersionOf,
  type DatasetFacts,
  datasetReadiness,
  type VersionRecord,
} from './status.js';
import {
  type DatasetVersionStore,
  StorageUnavailable,
  type VersionReader,
} from './version-store.js';

/** How soon to look again while the store cannot be reached. */
const STORE_RETRY_MS = 10_000;

/** The `versions` step (see the module header). */
export function versionsStep(store: DatasetVersionStore): Step<DatasetObject, DatasetFacts> {
  return {
    name: 'versions',
    async run(ds, _ctx, facts) {
      try {
        const found = await readVersions(ds, facts, store);
        return { facts: found, readiness: datasetReadiness(ds, facts.latest, found.current) };
      } catch (error) {
        if (!(error instanceof StorageUnavailable)) throw error;
        const { history, current } = await readVersions(ds, facts, store.known());
        return {
          facts: { history, current },
          readiness: { state: 'progressing', reason: error.reason, message: error.message },
          requeueAfterMs: STORE_RETRY_MS,
        };
      }
    },
  };
}

async function readVersions(
  ds: DatasetObject,
  { succeeded }: Readonly<Partial<DatasetFacts>>,
  reader: VersionReader,
): Promise<Pick<DatasetFacts, 'stored' | 'history' | 'current'>> {
  const ref = { namespace: ds.metadata.namespace ?? '', name: ds.metadata.name ?? '' };
  const basis = succeeded?.jobUid ?? '';
  const stored = await reader.versions(ref, basis, succeeded?.result.version);
  const currentName = succeeded?.result.version ?? stored[0]?.version;
  const { history } = retention(stored, currentName, ds.spec.versionHistoryLimit, new Set());
  const records: VersionRecord[] = [];
  for (const v of history) {
    const counts = await reader.rowCounts(ref, basis, v.version);
    // A version without statistics (written by hand, half deleted) is not shown.
    if (counts) records.push({ ...v, ...counts });
  }
  const stats = currentName ? await reader.stats(ref, currentName) : undefined;
  return { stored, history: records, current: currentVersionOf(succeeded, stored[0], stats) };
}
