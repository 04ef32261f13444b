/**
 * Starts and stops the optional engines (`engines.ts`) in the running local cluster: builds the
 * engine if it is not cached yet, installs its CRDs from its module, starts its controller
 * manager as a host process (recorded in the cluster's ledger, so `cluster:down` stops it too),
 * points its webhook Service at it, applies its webhook configurations, and returns once its
 * webhooks answer. Stopping removes all of it, so the next suite sees a cluster without it.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import {
  type Engine,
  type EngineLayout,
  type EngineName,
  engineObjectsOf,
  engineSpec,
  engines,
  servingCertsDir,
  webhookConfigurationsOf,
} from './engines.js';
import { probeUrl, waitUntilHealthy } from './health.js';
import { freePort } from './ports.js';
import { recordedPid, startDetached, stopRecorded } from './processes.js';
import { clusterInfo, eventually, kubectl, repoRoot, stateDir } from './testenv.js';

const exec = promisify(execFile);

/** Builds the engine (cached) and returns its bin directory and module directory. */
async function buildEngine(name: EngineName): Promise<{ binDir: string; moduleDir: string }> {
  const script = path.join(repoRoot, 'e2e/cluster/build-components.sh');
  const { stdout } = await exec('bash', [script, '--engine', name], {
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`Building the ${name} engine failed:\n${error.stderr ?? error.message}`, {
      cause: error,
    });
  });
  const [binDir, moduleDir] = stdout.trim().split('\n');
  if (!binDir || !moduleDir) throw new Error(`build-components.sh --engine ${name}: no output`);
  return { binDir, moduleDir };
}

async function kubectlOk(args: string[], input?: string, what = args.join(' ')): Promise<string> {
  const result = await kubectl(args, { ...(input ? { input } : {}), timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`kubectl ${what} failed: ${result.stderr}`);
  return result.stdout;
}

async function yamlObjects(file: string) {
  return parseAllDocuments(await readFile(file, 'utf8'))
    .map((d) => d.toJS())
    .filter(Boolean);
}

/** Whether the engine's controller process is running in this cluster. */
export async function engineRunning(name: EngineName): Promise<boolean> {
  return (await recordedPid(stateDir, engines[name].component)) !== undefined;
}

/**
 * Starts the engine (and those it needs) in the running cluster, unless it runs already.
 * Returns the engines it started, for `stopEngines` to undo.
 */
export async function startEngine(
  name: EngineName,
  log: (line: string) => void = (line) => console.error(`[cluster] ${line}`),
): Promise<EngineName[]> {
  const engine = engines[name];
  const started: EngineName[] = [];
  for (const need of engine.needs) started.push(...(await startEngine(need, log)));
  if (await engineRunning(name)) return started;
  const begun = Date.now();
  const { binDir, moduleDir } = await buildEngine(name);
  const info = clusterInfo();
  const layout: EngineLayout = {
    stateDir,
    binary: path.join(binDir, (await readdir(binDir))[0] ?? ''),
    moduleDir,
    kubeconfig: info.kubeconfigPath,
    hostAddress: info.hostAddress,
    webhookPort: await freePort(),
    healthPort: await freePort(),
  };
  const crds = engine.crdFiles.map((f) => path.join(moduleDir, f));
  await kubectlOk([
    'apply',
    '--server-side',
    '--force-conflicts',
    ...crds.flatMap((f) => ['-f', f]),
  ]);
  for (const resource of engine.resources)
    await eventually(
      () => kubectlOk(['wait', '--for=condition=Established', `crd/${resource}`, '--timeout=5s']),
      { timeoutMs: 60_000, what: `CRD ${resource} Established` },
    );
  await kubectlOk(
    ['apply', '--server-side', '--force-conflicts', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: engineObjectsOf(engine, layout) }),
    `apply ${engine.name}'s namespace and webhook Service`,
  );

  // Before the process: its rotator reports ready only once it has injected its CA into them.
  // Until then the API server cannot call them (JobSet's pod webhooks see only JobSet's pods).
  const generated = await yamlObjects(path.join(moduleDir, engine.webhookManifest));
  await kubectlOk(
    ['apply', '--server-side', '--force-conflicts', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: webhookConfigurationsOf(engine, generated),
    }),
    `apply ${engine.name}'s webhook configurations`,
  );

  const spec = engineSpec(engine, layout);
  for (const file of spec.files ?? []) {
    await mkdir(path.dirname(file.path), { recursive: true });
    await writeFile(file.path, file.content);
  }
  const certsDir = servingCertsDir(layout, name);
  await mkdir(certsDir, { recursive: true });
  const logPath = path.join(stateDir, 'logs', `${spec.name}.log`);
  const proc = await startDetached(stateDir, spec, logPath);
  await eventually(() => mountSecret(engine, certsDir), {
    timeoutMs: 60_000,
    what: `${engine.webhookSecret} filled by ${engine.component}'s rotator`,
  });
  await waitUntilHealthy(
    { name: spec.name, pid: proc.pid, logPath },
    async () => (await probeUrl(spec.healthUrl!)) === 200,
    120_000,
  );
  // The rotator injects its CA into the configurations; until then the API server refuses.
  // Applying the engine's own objects (through its webhooks) proves the path end to end.
  for (const manifest of engine.extraManifests) {
    const file = path.join(moduleDir, manifest);
    await eventually(() => kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', file]), {
      timeoutMs: 60_000,
      what: `applying ${manifest} through ${engine.name}'s webhook`,
    });
  }
  if (name === 'jobset')
    await eventually(jobsetWebhookAnswers, { timeoutMs: 60_000, what: "JobSet's webhook" });
  log(`${engine.component} up in ${((Date.now() - begun) / 1000).toFixed(1)} s`);
  return [...started, name];
}

/**
 * Does what the kubelet's secret volume does for the engine's pod: writes its certificate
 * Secret's keys as files into the directory its webhook server reads (throws until the rotator
 * has filled the Secret).
 */
async function mountSecret(engine: Engine, dir: string): Promise<void> {
  const secret = JSON.parse(
    await kubectlOk(['get', 'secret', '-n', engine.namespace, engine.webhookSecret, '-o', 'json']),
  ) as { data?: Record<string, string> };
  const data = secret.data ?? {};
  if (!data['tls.crt'] || !data['tls.key'] || !data['ca.crt'])
    throw new Error(`Secret ${engine.namespace}/${engine.webhookSecret} has no certificate yet`);
  for (const [key, value] of Object.entries(data))
    await writeFile(path.join(dir, key), Buffer.from(value, 'base64'), { mode: 0o600 });
}

/** A server-side dry run of a JobSet: goes through JobSet's defaulting and validating webhooks. */
async function jobsetWebhookAnswers(): Promise<void> {
  const jobset = {
    apiVersion: 'jobset.x-k8s.io/v1alpha2',
    kind: 'JobSet',
    metadata: { name: 'webhook-probe', namespace: 'default' },
    spec: {
      replicatedJobs: [
        {
          name: 'probe',
          replicas: 1,
          template: {
            spec: {
              template: {
                spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'probe' }] },
              },
            },
          },
        },
      ],
    },
  };
  await kubectlOk(
    ['create', '--dry-run=server', '-f', '-'],
    JSON.stringify(jobset),
    'JobSet dry run',
  );
}

/**
 * Stops the engines (in reverse order) and removes their webhook configurations, CRDs (and so
 * every object of their kinds) and namespaces.
 */
export async function stopEngines(names: EngineName[]): Promise<void> {
  for (const name of [...names].reverse()) {
    const engine = engines[name];
    const configurations = [
      ...(engine.mutatingConfiguration
        ? [`mutatingwebhookconfiguration/${engine.mutatingConfiguration}`]
        : []),
      `validatingwebhookconfiguration/${engine.validatingConfiguration}`,
    ];
    await kubectl(['delete', '--ignore-not-found', ...configurations]);
    await kubectl([
      'delete',
      '--ignore-not-found',
      '--wait=true',
      '--timeout=60s',
      ...engine.resources.map((r) => `crd/${r}`),
    ]);
    await stopRecorded(stateDir, [], 10_000, [engine.component]);
    // Waited for: an engine started again right after (the next suite) would otherwise apply its
    // webhook Service into the Terminating namespace and lose it when the namespace goes.
    await kubectl([
      'delete',
      'namespace',
      '--ignore-not-found',
      '--wait=true',
      '--timeout=120s',
      engine.namespace,
    ]);
    await rm(path.join(stateDir, 'engines', name), { recursive: true, force: true });
  }
}
