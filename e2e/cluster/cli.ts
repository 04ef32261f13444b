/**
 * `npm run cluster:up` / `npm run cluster:down`: the local cluster from the command line.
 */
import { requestedNodeKind } from '../kubelet/config.js';
import { down, isHealthy, up } from './cluster.js';
import { startEngine, stopEngines } from './engine-control.js';
import { type EngineName, engineNames } from './engines.js';

const usage =
  'usage: cli.ts up [--no-node] [--node process|kubelet] [--jobset] [--trainer] | down | status\n' +
  '       cli.ts engine start|stop jobset|trainer';

/** The engines `up` is asked for: `--jobset`, `--trainer` (Trainer brings JobSet). */
function requestedEngines(flags: string[]): EngineName[] {
  return engineNames.filter((name) => flags.includes(`--${name}`));
}

async function main(command: string | undefined, flags: string[]): Promise<number> {
  switch (command) {
    case 'up': {
      const info = await up({
        node: !flags.includes('--no-node'),
        nodeKind: requestedNodeKind(flags),
      });
      for (const engine of requestedEngines(flags)) await startEngine(engine);
      console.log(`
Local cluster is up (API server ${info.apiServerUrl}, node ${info.nodeName}: ${info.node === 'kubelet' ? 'a kubelet on containerd' : 'the process node'}).

  source .lathe/env.sh          # kubectl and helm on PATH, KUBECONFIG set
  kubectl get nodes

Kubeconfig:        ${info.kubeconfigPath}
MinIO:             ${info.minio.endpoint} (bucket ${info.minio.bucket}; credentials in .lathe/minio.env
                   and in Secret lathe-system/lathe-object-store; the same URL from pods)
Network:           pods ${info.network.podCidr}, Services ${info.network.serviceCidr} (routed from
                   this host), host address for pods ${info.hostAddress}, node netns ${info.network.nodeNetns}
${
  info.registry
    ? `Registry:          ${info.registry} (plain HTTP; npm run images -- --push ${info.registry}/lathe --dest-tls-verify=false)
`
    : ''
}Component logs:    .lathe/logs/
Stop it with:      npm run cluster:down`);
      return 0;
    }
    case 'engine': {
      const [action, name] = flags;
      if (!engineNames.includes(name as EngineName) || !['start', 'stop'].includes(action ?? '')) {
        console.error(usage);
        return 2;
      }
      if (action === 'start') await startEngine(name as EngineName);
      else await stopEngines([name as EngineName]);
      return 0;
    }
    case 'down': {
      const { stopped, removed } = await down();
      console.log(
        stopped.length ? `Stopped: ${stopped.join(', ')}` : 'No local cluster was running.',
      );
      if (removed.length) console.log(`Removed: ${removed.join(', ')}`);
      return 0;
    }
    case 'status': {
      const healthy = await isHealthy();
      console.log(
        healthy ? 'Local cluster is up and its node is Ready.' : 'No healthy local cluster.',
      );
      return healthy ? 0 : 1;
    }
    default:
      console.error(usage);
      return 2;
  }
}

main(process.argv[2], process.argv.slice(3)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`\n${error.message}`);
    process.exit(1);
  },
);
