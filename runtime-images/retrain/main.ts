/**
 * The retrain trigger (`ghcr.io/lathe-dev/lathe-retrain`): run by a RetrainPolicy's CronJob at
 * each scheduled time, it submits one TrainingJob from the policy's template through the API,
 * under the ServiceAccount the policy's controller made for it (a Role that can only create and
 * list TrainingJobs in its namespace). With `concurrencyPolicy: Forbid` it submits nothing while
 * a run of the policy is still going; `Replace` is carried out by the controller, which may
 * delete TrainingJobs.
 *
 * Exit codes: 0 submitted (or already submitted by an earlier try, or skipped by Forbid);
 * 1 the API refused; 2 invalid environment.
 */
import * as k8s from '@kubernetes/client-node';
import { z } from 'zod';
import { parseEnv, RetrainEnv, RuntimeEnvError } from '../../contract/runtime-env.js';
import { HttpKubeClient, isAlreadyExists } from '../../operator/src/runtime/kube-client.js';
import type { KubeObject, ResourceType } from '../../operator/src/runtime/resource.js';
import { isActive, POLICY_LABEL, type ScheduledRun, scheduledTrainingJob } from './submit.js';

const trainingJobs: ResourceType = {
  group: 'lathe.dev',
  version: 'v1alpha1',
  kind: 'TrainingJob',
  plural: 'trainingjobs',
  namespaced: true,
};

function log(level: 'info' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(
    `${JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields })}\n`,
  );
}

function readRun(): { run: ScheduledRun; concurrencyPolicy: string } {
  const e = parseEnv(
    z.object({
      [RetrainEnv.namespace]: z.string().min(1),
      [RetrainEnv.policy]: z.string().min(1),
      [RetrainEnv.policyUid]: z.string().min(1),
      [RetrainEnv.template]: z.string().min(2),
      [RetrainEnv.concurrencyPolicy]: z.enum(['Allow', 'Forbid', 'Replace']).default('Forbid'),
      [RetrainEnv.runName]: z.string().min(1),
    }),
    process.env,
  );
  return {
    run: {
      namespace: e[RetrainEnv.namespace] as string,
      policy: e[RetrainEnv.policy] as string,
      policyUid: e[RetrainEnv.policyUid] as string,
      runName: e[RetrainEnv.runName] as string,
      template: JSON.parse(e[RetrainEnv.template] as string) as ScheduledRun['template'],
    },
    concurrencyPolicy: e[RetrainEnv.concurrencyPolicy] as string,
  };
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof readRun>;
  try {
    parsed = readRun();
  } catch (error) {
    if (error instanceof RuntimeEnvError || error instanceof SyntaxError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const { run, concurrencyPolicy } = parsed;
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  const client = new HttpKubeClient(kc);
  if (concurrencyPolicy === 'Forbid') {
    const existing = await client.list<KubeObject>(trainingJobs, {
      namespace: run.namespace,
      labelSelector: `${POLICY_LABEL}=${run.policy}`,
    });
    const active = existing.items.filter(isActive).map((tj) => tj.metadata?.name);
    if (active.length > 0) {
      log(
        'info',
        'Skipped the scheduled run: a run of the policy is still going (concurrencyPolicy Forbid)',
        { active },
      );
      return 0;
    }
  }
  const trainingJob = scheduledTrainingJob(run);
  try {
    await client.create(trainingJobs, trainingJob);
    log('info', 'Submitted a TrainingJob', {
      name: trainingJob.metadata?.name,
      policy: run.policy,
    });
  } catch (error) {
    if (!isAlreadyExists(error)) {
      log('error', 'Failed to submit the TrainingJob', { err: String(error) });
      return 1;
    }
    log('info', 'The TrainingJob of this run was already submitted', {
      name: trainingJob.metadata?.name,
    });
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log('error', 'The retrain trigger failed', { err: String(error) });
    process.exit(1);
  },
);
