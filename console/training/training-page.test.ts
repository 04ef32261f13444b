import { describe, expect, it } from 'vitest';
import type { TrainingHistory } from '../../contract/results.js';
import type { TrainingJobObject } from '../../operator/src/controllers/lathe-kinds.js';
import type { HistoryRead } from './history-reader.js';
import { renderTraining } from './training-page.js';
import { isFinished, LIVE_REFRESH_SECONDS, trainingView } from './training-view.js';

function trainingJob(status: TrainingJobObject['status']): TrainingJobObject {
  return {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name: 'iris-run', namespace: 'team-a' },
    spec: { datasetRef: { name: 'iris' }, modelName: 'iris' },
    status,
  } as TrainingJobObject;
}

const history: TrainingHistory = {
  epochs: [1, 2, 3].map((epoch) => ({
    epoch,
    loss: 1 / epoch,
    valLoss: epoch === 2 ? 0.3 : 0.5,
    metrics: { accuracy: 0.5 + epoch / 10 },
  })),
};
const found: HistoryRead = { state: 'found', history, readAtMs: Date.UTC(2026, 11, 7, 12) };

describe('trainingView', () => {
  it.each([
    [undefined, false],
    ['Pending', false],
    ['Running', false],
    ['Suspended', false],
    ['Succeeded', true],
    ['Failed', true],
  ] as const)('phase %s: finished %s, refreshing while not', (phase, finished) => {
    const tj = trainingJob(phase ? { phase } : undefined);
    expect(isFinished(tj)).toBe(finished);
    expect(trainingView(tj, found).refreshSeconds).toBe(
      finished ? undefined : LIVE_REFRESH_SECONDS,
    );
  });

  it('says where the epochs came from, or why there are none', () => {
    const tj = trainingJob({ phase: 'Running' });
    expect(trainingView(tj, found).history).toEqual({
      state: 'found',
      readAt: '2026-12-07T12:00:00.000Z',
    });
    expect(trainingView(tj, { state: 'missing', readAtMs: 0 }).history).toEqual({
      state: 'missing',
    });
    expect(trainingView(tj, undefined).history).toEqual({ state: 'no-store' });
    expect(trainingView(tj, { state: 'unreadable', message: 'boom', readAtMs: 0 }).epochs).toEqual(
      [],
    );
  });
});

describe('renderTraining', () => {
  const running = trainingJob({
    phase: 'Running',
    datasetVersion: 'abc123',
    progress: {
      epoch: 3,
      totalEpochs: 20,
      loss: 0.3333333333333333,
      valLoss: 0.5,
      metrics: { accuracy: 0.8 },
      summary: '3/20 loss=0.333',
    },
  });

  it('lists one row per epoch of history.json, with exact values', () => {
    const page = renderTraining(trainingView(running, found)).text;
    expect(page).toContain('<table id="epochs-table" data-epochs="3">');
    expect(page.match(/<tr data-epoch="\d+"/g)).toHaveLength(3);
    expect(page).toContain(
      '<td class="num" data-field="loss" data-value="0.3333333333333333">0.3333</td>',
    );
    expect(page).toContain('<tr data-epoch="2" class="best">');
    expect(page).toContain('best epoch <b data-summary="best">2</b> (lowest val_loss)');
  });

  it('shows the progress as status.progress has it, and that the page is live', () => {
    const page = renderTraining(trainingView(running, found)).text;
    expect(page).toContain('<span data-progress="epoch" data-value="3">3</span>');
    expect(page).toContain('<span data-progress="totalEpochs" data-value="20">20</span>');
    expect(page).toContain('<b data-progress="loss" data-value="0.3333333333333333">0.3333</b>');
    expect(page).toContain('<b data-progress="accuracy" data-value="0.8">0.8</b>');
    expect(page).toContain('<dd data-field="phase">Running</dd>');
    expect(page).toContain('<a href="/objects/trainingjobs/team-a/iris-run"><b>iris-run</b></a>');
    expect(page).toContain('id="live-note"');
    expect(page).toMatch(/<svg [^>]*id="loss-curve"/);
    expect(page).toMatch(/<svg [^>]*id="metric-curve"/);
  });

  it('links a finished run to the version it made, and stops being live', () => {
    const done = trainingJob({
      phase: 'Succeeded',
      modelVersion: { name: 'iris-v4', version: 4 },
    });
    const page = renderTraining(trainingView(done, found)).text;
    expect(page).not.toContain('id="live-note"');
    expect(page).toContain(
      '<a href="/models/team-a/iris?v=4" data-field="model-version">iris-v4</a>',
    );
  });

  it.each([
    [{ state: 'missing', readAtMs: 0 } as const, 'id="history-missing"'],
    [undefined, 'id="history-no-store"'],
    [
      { state: 'unreadable', message: 'history.json is not JSON', readAtMs: 0 } as const,
      'history.json is not JSON',
    ],
  ])('explains an empty table (%j)', (read, text) => {
    const page = renderTraining(trainingView(trainingJob({ phase: 'Pending' }), read)).text;
    expect(page).toContain(text);
    expect(page).toContain('data-epochs="0"');
    expect(page).toContain('No progress reported yet.');
    expect(page).toContain('class="chart-empty"');
  });

  it('shows a failure with its reason', () => {
    const failed = trainingJob({
      phase: 'Failed',
      failure: { reason: 'DatasetNotReady', message: 'iris has no version <yet>' },
    });
    const page = renderTraining(trainingView(failed, found)).text;
    expect(page).toContain('<b>DatasetNotReady</b>: iris has no version &lt;yet&gt;');
  });
});
