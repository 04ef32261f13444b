/**
 * The inference server's Prometheus metrics (prom-client, its own registry), served at
 * `GET /metrics` on the server's port.
 *
 * Lathe's autoscaler reads `lathe_inference_requests_in_flight` (concurrency) and the rate of
 * `lathe_inference_requests_total` (requests per second) from each pod; the RetrainPolicy's
 * accuracy trigger reads `lathe_feedback_live_accuracy`. Explain requests are counted apart
 * (`lathe_explain_requests_total`, `lathe_explain_request_duration_seconds`): one costs hundreds
 * of predictions, so mixing them would skew the request rate and latency the autoscaler and
 * dashboards read; they do count in `lathe_inference_requests_in_flight`, being load.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type Protocol = 'v1' | 'v2';

export interface ServerMetrics {
  registry: Registry;
  requests: Counter<'model' | 'version' | 'protocol' | 'code'>;
  latency: Histogram<'model' | 'version' | 'protocol'>;
  explainRequests: Counter<'model' | 'version' | 'protocol' | 'code'>;
  explainLatency: Histogram<'model' | 'version' | 'protocol'>;
  inFlight: Gauge<'model' | 'version'>;
  batchRequests: Histogram<'model' | 'version'>;
  batchRows: Histogram<'model' | 'version'>;
  ready: Gauge<'model' | 'version'>;
  requestLogRecords: Counter<'outcome'>;
  requestLogWriteFailures: Counter;
  feedbackRows: Counter<'model' | 'version' | 'outcome'>;
  feedbackRefused: Counter<'model' | 'version' | 'reason'>;
  liveAccuracy: Gauge<'model' | 'version'>;
  liveMeanAbsoluteError: Gauge<'model' | 'version'>;
}

/** A fresh registry with every metric of the server (and Node's process metrics). */
export function createServerMetrics(): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: 'lathe_inference_requests_total',
      help: 'Prediction requests (V1 predict, V2 infer) answered, by model, version, protocol and HTTP status code.',
      labelNames: ['model', 'version', 'protocol', 'code'],
      registers,
    }),
    latency: new Histogram({
      name: 'lathe_inference_request_duration_seconds',
      help: 'Time from a prediction request arriving to its response being written.',
      labelNames: ['model', 'version', 'protocol'],
      buckets: [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
      ],
      registers,
    }),
    explainRequests: new Counter({
      name: 'lathe_explain_requests_total',
      help: 'Explain requests (V1 :explain, V2 /explain) answered, by model, version, protocol and HTTP status code.',
      labelNames: ['model', 'version', 'protocol', 'code'],
      registers,
    }),
    explainLatency: new Histogram({
      name: 'lathe_explain_request_duration_seconds',
      help: 'Time from an explain request arriving to its response being written.',
      labelNames: ['model', 'version', 'protocol'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    inFlight: new Gauge({
      name: 'lathe_inference_requests_in_flight',
      help: 'Prediction requests being received, queued or computed right now.',
      labelNames: ['model', 'version'],
      registers,
    }),
    batchRequests: new Histogram({
      name: 'lathe_inference_batch_requests',
      help: 'Requests sharing one forward pass.',
      labelNames: ['model', 'version'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    }),
    batchRows: new Histogram({
      name: 'lathe_inference_batch_rows',
      help: 'Rows in one forward pass.',
      labelNames: ['model', 'version'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096],
      registers,
    }),
    ready: new Gauge({
      name: 'lathe_inference_model_ready',
      help: '1 when the model is loaded, verified and warmed up and the server is not shutting down.',
      labelNames: ['model', 'version'],
      registers,
    }),
    requestLogRecords: new Counter({
      name: 'lathe_request_log_records_total',
      help: 'Sampled requests and submitted labels, by outcome: written to the store, or dropped (buffer full or write failed).',
      labelNames: ['outcome'],
      registers,
    }),
    requestLogWriteFailures: new Counter({
      name: 'lathe_request_log_write_failures_total',
      help: 'Failed writes of a request-log or label file to the object store.',
      registers,
    }),
    feedbackRows: new Counter({
      name: 'lathe_feedback_rows_total',
      help: 'Labelled rows received, by outcome: correct or incorrect (classification), scored (regression), or unmatched (this replica no longer held the prediction).',
      labelNames: ['model', 'version', 'outcome'],
      registers,
    }),
    feedbackRefused: new Counter({
      name: 'lathe_feedback_refused_total',
      help: 'Feedback submissions refused, by reason: conflict (the request already has a label; the first stands), unauthorized (no or a wrong bearer token), disabled (no token configured).',
      labelNames: ['model', 'version', 'reason'],
      registers,
    }),
    liveAccuracy: new Gauge({
      name: 'lathe_feedback_live_accuracy',
      help: 'Classification: the fraction of correct predictions among the most recent labelled rows this replica scored.',
      labelNames: ['model', 'version'],
      registers,
    }),
    liveMeanAbsoluteError: new Gauge({
      name: 'lathe_feedback_live_mean_absolute_error',
      help: 'Regression: the mean absolute error of the most recent labelled rows this replica scored.',
      labelNames: ['model', 'version'],
      registers,
    }),
  };
}
