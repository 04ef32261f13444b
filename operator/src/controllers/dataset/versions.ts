/**
 * The `versions` step: the Dataset's versions as the object store has them (listed through
 * `DatasetVersionStore`'s cache), the history status shows (`history.ts`) with each version's
 * row counts from its `stats.json`, and the current version — the newest run that succeeded
 * names it, else the newest version in the store. It also says where the Dataset stands:
 * Ready when a version of the current spec exists (`status.ts`, `datasetReadiness`).
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
import type { DatasetVersionStore } from './version-store.js';

/** The `versions` step (see the module header). */
export function versionsStep(versions: DatasetVersionStore): Step<DatasetObject, DatasetFacts> {
  return {
    name: 'versions',
    async run(ds, _ctx, facts) {
      const ref = { namespace: ds.metadata.namespace ?? '', name: ds.metadata.name ?? '' };
      const { succeeded, latest } = facts;
      const basis = succeeded?.jobUid ?? '';
      const stored = await versions.versions(ref, basis, succeeded?.result.version);
      const currentName = succeeded?.result.version ?? stored[0]?.version;
      const { history } = retention(stored, currentName, ds.spec.versionHistoryLimit, new Set());
      const records: VersionRecord[] = [];
      for (const v of history) {
        const counts = await versions.rowCounts(ref, basis, v.version);
        // A version without statistics (written by hand, half deleted) is not shown.
        if (counts) records.push({ ...v, ...counts });
      }
      const current = currentVersionOf(
        succeeded,
        stored[0],
        currentName ? await versions.stats(ref, currentName) : undefined,
      );
      return {
        facts: { stored, history: records, current },
        readiness: datasetReadiness(ds, latest, current),
      };
    },
  };
}
