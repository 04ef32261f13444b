/**
 * The model comparison page's view: the versions of one model side by side, computed from the
 * ModelVersions in the cache and their runs' training histories. Pure: objects in, rows out.
 *
 * What MLflow's run comparison and registry pages show, and what their users ask for besides:
 * hyperparameters with a differences-only view (mlflow#3763, #7980), a metric across registered
 * versions (#4806), a link from a version to the run that made it (#17134). And what only Lathe
 * knows: the stage history with the promotion decisions (`lathe.dev/promotion`), the data
 * version, permutation importance and metrics by group from the model card.
 *
 * Every number comes from the object as `kubectl get -o json` shows it (`spec.metrics`,
 * `status.importance`, `status.fairness`) or from `history.json`; nothing is recomputed.
 */
import type { TrainingHistory } from '../../contract/results.js';
import type { ModelVersionObject } from '../../operator/src/controllers/lathe-kinds.js';
import {
  type PromotionRecord,
  recordedDecision,
} from '../../operator/src/controllers/retrainpolicy/decision.js';
import { formatMetric, lowerIsBetter } from '../numbers.js';
import { epochSummaries, type TrainingEpochSummaries } from '../training/history.js';

/** The most versions shown side by side; the chart covers them all. */
export const MAX_COLUMNS = 12;
/** Versions shown when the query chooses none: the newest. */
export const DEFAULT_COLUMNS = 6;
/** The most stage-history events listed (the newest); a model retrained daily has thousands. */
export const STAGE_HISTORY_LIMIT = 100;

/** What the page's query string asks for (`?v=3&v=5&diff=1&metric=f1`). */
export interface ComparisonQuery {
  /** Version numbers to show; undefined: the newest `DEFAULT_COLUMNS`. */
  versions: number[] | undefined;
  /** Show only the hyperparameters whose values differ between the shown versions. */
  differencesOnly: boolean;
  /** The metric charted across versions; undefined: the first of `accuracy`, `r2`, `loss`, ... */
  metric: string | undefined;
}

/** Reads the query string; values it cannot read are ignored (the page says what it shows). */
export function parseComparisonQuery(params: URLSearchParams): ComparisonQuery {
  const versions = params
    .getAll('v')
    .flatMap((v) => v.split(','))
    .map((v) => Number(v.trim()))
    .filter((v) => Number.isInteger(v) && v >= 1);
  const metric = params.get('metric') ?? undefined;
  return {
    versions: versions.length > 0 ? [...new Set(versions)].sort((a, b) => a - b) : undefined,
    differencesOnly: params.get('diff') === '1',
    metric: metric && /^[A-Za-z][A-Za-z0-9_]*$/.test(metric) ? metric : undefined,
  };
}

export interface VersionColumn {
  name: string;
  version: number;
  stage: string;
  stageSince: string | undefined;
  ready: string | undefined;
  dataset: { name: string; version: string } | undefined;
  trainingJob: string | undefined;
  backend: string | undefined;
  created: string | undefined;
  epochs: TrainingEpochSummaries | undefined;
}

export interface MetricRow {
  metric: string;
  values: (number | undefined)[];
  /** Columns holding the best value (ties share it); empty with fewer than two values. */
  best: number[];
  lowerIsBetter: boolean;
}

export interface HyperparameterRow {
  name: string;
  values: (string | undefined)[];
  differs: boolean;
}

export interface ImportanceRow {
  column: string;
  values: ({ mean: number; std: number } | undefined)[];
}

export interface GroupRow {
  scope: string;
  group: string;
  values: (GroupCell | undefined)[];
}

export interface GroupCell {
  count: number;
  judged: boolean;
  metrics: [string, number][];
}

export interface StageEvent {
  time: string;
  version: number;
  modelVersion: string;
  /** `Registered`, `Stage` (the stage it entered at that time), `Promoted` or `Rejected`. */
  kind: 'Registered' | 'Stage' | 'Promoted' | 'Rejected';
  text: string;
  decision?: PromotionRecord;
}

export interface ModelComparisonView {
  namespace: string;
  model: string;
  /** Every version of the model, newest first, for the chooser. */
  allVersions: { version: number; name: string; stage: string; shown: boolean }[];
  columns: VersionColumn[];
  /** Versions asked for that do not exist, or beyond `MAX_COLUMNS`. */
  notShown: { missing: number[]; overLimit: number[] };
  metrics: MetricRow[];
  hyperparameters: HyperparameterRow[];
  /** Hyperparameters hidden by the differences-only view. */
  sameHyperparameters: number;
  importance: ImportanceRow[];
  fairness: ({ verdict: string; message: string } | undefined)[];
  groups: GroupRow[];
  /** The newest `STAGE_HISTORY_LIMIT` events, newest first. */
  stageHistory: StageEvent[];
  /** Events recorded in all. */
  stageEvents: number;
  chart: { metric: string | undefined; metrics: string[]; points: { x: number; y: number }[] };
  query: ComparisonQuery;
}

const PREFERRED_METRICS = ['accuracy', 'f1', 'r2', 'rmse', 'loss'];

/**
 * The comparison of the ModelVersions `versions` (all of one model, in any order), with the
 * training histories of their runs by TrainingJob name (absent: not read or not found).
 */
export function modelComparisonView(input: {
  namespace: string;
  model: string;
  versions: readonly ModelVersionObject[];
  histories: ReadonlyMap<string, TrainingHistory | undefined>;
  query: ComparisonQuery;
}): ModelComparisonView {
  const { query } = input;
  const all = [...input.versions].sort((a, b) => b.spec.version - a.spec.version);
  const { shown, notShown } = chosenVersions(all, query);
  const shownNames = new Set(shown.map((mv) => mv.metadata.name));

  const columns = shown.map((mv): VersionColumn => {
    const tj = mv.spec.lineage?.trainingJob?.name;
    const history = tj === undefined ? undefined : input.histories.get(tj);
    return {
      name: mv.metadata.name ?? '',
      version: mv.spec.version,
      stage: mv.spec.stage,
      stageSince: mv.status?.stageTransitionTime,
      ready: mv.status?.conditions?.find((c) => c.type === 'Ready')?.status,
      dataset: mv.spec.lineage?.dataset,
      trainingJob: tj,
      backend: mv.spec.lineage?.trainingJob?.backend,
      created: mv.metadata.creationTimestamp,
      epochs: history ? epochSummaries(history) : undefined,
    };
  });

  const metricNames = sortedMetricNames(shown.flatMap((mv) => Object.keys(mv.spec.metrics ?? {})));
  const metrics = metricNames.map((metric): MetricRow => {
    const values = shown.map((mv) => mv.spec.metrics?.[metric]);
    return {
      metric,
      values,
      best: bestColumns(values, lowerIsBetter(metric)),
      lowerIsBetter: lowerIsBetter(metric),
    };
  });

  const hyperparameterNames = [
    ...new Set(shown.flatMap((mv) => Object.keys(mv.spec.hyperparameters ?? {}))),
  ].sort();
  const allHyperparameters = hyperparameterNames.map((name): HyperparameterRow => {
    const values = shown.map((mv) => mv.spec.hyperparameters?.[name]);
    return { name, values, differs: new Set(values).size > 1 };
  });
  const hyperparameters = query.differencesOnly
    ? allHyperparameters.filter((row) => row.differs)
    : allHyperparameters;

  const history = stageHistory(all);
  const chartMetrics = sortedMetricNames(all.flatMap((mv) => Object.keys(mv.spec.metrics ?? {})));
  const chartMetric =
    query.metric !== undefined && chartMetrics.includes(query.metric)
      ? query.metric
      : chartMetrics[0];
  const points =
    chartMetric === undefined
      ? []
      : all
          .filter((mv) => mv.spec.metrics?.[chartMetric] !== undefined)
          .map((mv) => ({ x: mv.spec.version, y: mv.spec.metrics![chartMetric]! }))
          .reverse();

  return {
    namespace: input.namespace,
    model: input.model,
    allVersions: all.map((mv) => ({
      version: mv.spec.version,
      name: mv.metadata.name ?? '',
      stage: mv.spec.stage,
      shown: shownNames.has(mv.metadata.name),
    })),
    columns,
    notShown,
    metrics,
    hyperparameters,
    sameHyperparameters: allHyperparameters.length - hyperparameters.length,
    importance: importanceRows(shown),
    fairness: shown.map((mv) =>
      mv.status?.fairness
        ? { verdict: mv.status.fairness.verdict, message: mv.status.fairness.message }
        : undefined,
    ),
    groups: groupRows(shown),
    stageHistory: history.slice(0, STAGE_HISTORY_LIMIT),
    stageEvents: history.length,
    chart: { metric: chartMetric, metrics: chartMetrics, points },
    query,
  };
}

/**
 * The versions `query` chooses among `versions` (any order), oldest first: those asked for, or
 * the newest `DEFAULT_COLUMNS`; at most `MAX_COLUMNS`.
 */
export function chosenVersions(
  versions: readonly ModelVersionObject[],
  query: ComparisonQuery,
): { shown: ModelVersionObject[]; notShown: ModelComparisonView['notShown'] } {
  const byNumber = new Map(versions.map((mv) => [mv.spec.version, mv]));
  const newest = [...byNumber.keys()].sort((a, b) => b - a).slice(0, DEFAULT_COLUMNS);
  const asked = query.versions ?? newest;
  const present = asked.filter((v) => byNumber.has(v)).sort((a, b) => a - b);
  return {
    shown: present.slice(0, MAX_COLUMNS).map((v) => byNumber.get(v)!),
    notShown: {
      missing: asked.filter((v) => !byNumber.has(v)),
      overLimit: present.slice(MAX_COLUMNS),
    },
  };
}

/** Metric names, distinct, the usual ones first (`accuracy`, `f1`, `r2`, `rmse`, `loss`). */
export function sortedMetricNames(names: readonly string[]): string[] {
  const rank = (n: string) => {
    const i = PREFERRED_METRICS.indexOf(n);
    return i === -1 ? PREFERRED_METRICS.length : i;
  };
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b) || byText(a, b));
}

/** The columns holding the best of `values`; none unless at least two are finite. */
export function bestColumns(values: readonly (number | undefined)[], lower: boolean): number[] {
  const finite = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (finite.length < 2) return [];
  const best = lower ? Math.min(...finite) : Math.max(...finite);
  return values.flatMap((v, i) => (v === best ? [i] : []));
}

function importanceRows(shown: readonly ModelVersionObject[]): ImportanceRow[] {
  const strongest = new Map<string, number>();
  for (const mv of shown) {
    for (const c of mv.status?.importance?.columns ?? []) {
      strongest.set(c.column, Math.max(strongest.get(c.column) ?? -Infinity, c.mean));
    }
  }
  return [...strongest]
    .sort((a, b) => b[1] - a[1] || byText(a[0], b[0]))
    .map(([column]) => ({
      column,
      values: shown.map((mv) => {
        const c = mv.status?.importance?.columns.find((x) => x.column === column);
        return c ? { mean: c.mean, std: c.std } : undefined;
      }),
    }));
}

const GROUP_METRICS = [
  'accuracy',
  'selectionRate',
  'truePositiveRate',
  'falsePositiveRate',
  'meanAbsoluteError',
] as const;

function groupRows(shown: readonly ModelVersionObject[]): GroupRow[] {
  const keys = new Map<string, { scope: string; group: string }>();
  for (const mv of shown) {
    for (const g of mv.status?.fairness?.groups ?? []) keys.set(`${g.scope}\u0000${g.group}`, g);
  }
  return [...keys.values()]
    .sort((a, b) => byText(a.scope, b.scope) || byText(a.group, b.group))
    .map(({ scope, group }) => ({
      scope,
      group,
      values: shown.map((mv) => {
        const g = mv.status?.fairness?.groups?.find((x) => x.scope === scope && x.group === group);
        if (!g) return undefined;
        const metrics = GROUP_METRICS.flatMap((m): [string, number][] =>
          g[m] === undefined ? [] : [[m, g[m]]],
        );
        return { count: g.count, judged: g.judged, metrics };
      }),
    }));
}

/**
 * What is recorded of the model's stages, newest first: each version's registration, the stage
 * it is in since `status.stageTransitionTime`, and the promotion decision a RetrainPolicy wrote
 * on it. Kubernetes keeps no older stages; the decisions say how the earlier changes came about.
 */
export function stageHistory(versions: readonly ModelVersionObject[]): StageEvent[] {
  const events: StageEvent[] = [];
  for (const mv of versions) {
    const base = { version: mv.spec.version, modelVersion: mv.metadata.name ?? '' };
    if (mv.metadata.creationTimestamp) {
      const data = mv.spec.lineage?.dataset;
      events.push({
        ...base,
        time: mv.metadata.creationTimestamp,
        kind: 'Registered',
        text: data ? `registered, trained on ${data.name} ${data.version}` : 'registered',
      });
    }
    const stage = mv.status?.stage ?? mv.spec.stage;
    if (mv.status?.stageTransitionTime && stage !== 'none') {
      events.push({
        ...base,
        time: mv.status.stageTransitionTime,
        kind: 'Stage',
        text: `${stage} since then`,
      });
    }
    const decision = recordedDecision(mv);
    if (decision) {
      const champion = decision.champion
        ? ` against ${decision.champion.modelVersion} (${formatMetric(decision.champion.value)})`
        : '';
      events.push({
        ...base,
        time: decision.time,
        kind: decision.decision,
        text: `${decision.decision} by RetrainPolicy ${decision.policy}: ${decision.metric} ${formatMetric(decision.challenger.value)}${champion}; ${decision.reason}`,
        decision,
      });
    }
  }
  const order = { Promoted: 0, Rejected: 0, Stage: 1, Registered: 2 };
  return events.sort(
    (a, b) => byText(b.time, a.time) || b.version - a.version || order[a.kind] - order[b.kind],
  );
}

/** Code-point order: stable across locales, and much cheaper than `localeCompare` on 1,000 rows. */
function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
