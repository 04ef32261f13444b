/**
 * One `HistoryReader` (and so one cache) per object store the console reads, shared by every
 * page and request: pages get the store's reader in their context and ask here for its cached
 * view.
 */
import { HistoryReader, type RunRecordsReader } from './history-reader.js';

const readers = new WeakMap<RunRecordsReader, HistoryReader>();

/** The cached history reader over `records`; undefined without an object store. */
export function historyReaderFor(records: RunRecordsReader | undefined): HistoryReader | undefined {
  if (!records) return undefined;
  let reader = readers.get(records);
  if (!reader) {
    reader = new HistoryReader(records);
    readers.set(records, reader);
  }
  return reader;
}
