/**
 * What the RetrainPolicy controller's steps find and pass on, to later steps and to the status
 * builder. Rebuilt on every pass from what exists — the policy's runs and CronJob, the Dataset,
 * the ModelVersions its decisions are recorded on, the readings of the served version — never
 * read back from the policy's status.
 */
import type { ObjectStore } from '../../../../contract/object-store.js';
import type { RetrainPolicyStatus } from '../../api/retrainpolicy.js';
import type { TrainingJobObject } from '../lathe-kinds.js';
import type { ObjectStoreAccess, ObjectStoreConfig } from '../shared/object-store-access.js';
import type { PromotionRecord } from './decision.js';
import type { TriggerRecord } from './trigger-record.js';
import type { Admission } from './triggers.js';

export interface RetrainFacts {
  /** The object store, when the operator has one, and the evaluation pods' credentials. */
  storage: { store: ObjectStore; config: ObjectStoreConfig; access: ObjectStoreAccess } | undefined;
  /** The policy's runs that exist (after the concurrency policy's deletions). */
  runs: TrainingJobObject[];
  /** The Dataset's current Ready version (datasetChange trigger), if any. */
  datasetVersion: string | undefined;
  /** What the triggers have acted on, up to date with the runs. */
  record: TriggerRecord;
  /** The newest drift reading. */
  lastDrift: RetrainPolicyStatus['lastDrift'];
  /** The newest live-accuracy reading. */
  lastAccuracy: RetrainPolicyStatus['lastAccuracy'];
  /** Whether the first run the triggers call for starts now (and what it replaces). */
  admission: Admission;
  /** More runs are due after that one (the next pass starts the next). */
  moreDue: boolean;
  /** A due run that waits (cooldown, Forbid with a run active), and why. */
  deferred: string | undefined;
  /** The newest champion/challenger decision of the policy. */
  lastPromotion: PromotionRecord | undefined;
}
