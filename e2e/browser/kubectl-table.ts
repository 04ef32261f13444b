/**
 * Reads the table `kubectl get` prints, so a browser test can compare a console page's cells
 * with what kubectl shows for the same objects. kubectl aligns its columns with Go's
 * tabwriter: every cell of a column starts where the column's header starts, and a cell may
 * hold spaces ("12/50 loss=0.214"), so rows are cut at the headers' offsets, not at spaces.
 */

/** One row: the cell under each header (`NAME`, `READY`, …), trimmed. */
export type KubectlRow = Record<string, string>;

/** The rows of `kubectl get` output (`No resources found` gives none). */
export function parseKubectlTable(output: string): KubectlRow[] {
  const lines = output.split('\n').filter((line) => line.trim() !== '');
  const [header, ...rows] = lines;
  if (!header || /^No resources found/.test(header)) return [];
  const columns = [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => ({
    name: m[0],
    start: m.index,
  }));
  if (columns[0]?.start !== 0) throw new Error(`not a kubectl table header: "${header}"`);
  return rows.map((line) =>
    Object.fromEntries(
      columns.map((column, i) => [
        column.name,
        line.slice(column.start, columns[i + 1]?.start ?? line.length).trim(),
      ]),
    ),
  );
}
