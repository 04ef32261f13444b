/**
 * The process node's configuration, read once from the environment at start-up.
 *
 * The cluster script (`e2e/cluster/components.ts`) starts the node with exactly these variables;
 * anything malformed is a start-up error that names the variable, never a half-working node.
 */
import { z } from 'zod';

/** Default capacity: a mid-sized GPU box, so scheduling tests can ask for GPUs. */
export const defaultCapacity: Record<string, string> = {
  cpu: '8',
  memory: '16Gi',
  pods: '110',
  'nvidia.com/gpu': '2',
  'ephemeral-storage': '50Gi',
};

const quantity = z
  .string()
  .regex(/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i?|[munk])?$/, 'not a resource quantity');

/** A JSON object in an environment variable, validated by `inner`. */
function jsonObject<T extends z.ZodType>(inner: T) {
  return z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `not valid JSON (${(error as Error).message})` });
        return z.NEVER;
      }
    })
    .pipe(inner);
}

const ipPrefix = z
  .string()
  .regex(/^127\.\d{1,3}(\.\d{1,3})?$/, 'must be one or two octets under 127, e.g. "127.244"')
  .refine((p) => p.split('.').every((o) => Number(o) <= 255), 'octets must be at most 255');

const envSchema = z.object({
  LATHE_NODE_KUBECONFIG: z.string().min(1),
  LATHE_NODE_NAME: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be a DNS subdomain')
    .default('lathe-node'),
  LATHE_NODE_DIR: z.string().min(1),
  LATHE_NODE_CAPACITY: jsonObject(z.record(z.string(), quantity)).optional(),
  LATHE_NODE_LABELS: jsonObject(z.record(z.string(), z.string())).optional(),
  LATHE_NODE_POD_IP_PREFIX: ipPrefix.default('127.244'),
  LATHE_API_SERVER_HOST: z.string().min(1),
  LATHE_API_SERVER_PORT: z.coerce.number().int().min(1).max(65535),
  LATHE_NODE_LOG_LEVEL: z
    .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
    .default('info'),
  LATHE_NODE_IMAGES: z.string().min(1).optional(),
});

/** The validated configuration of one process node. */
export interface NodeConfig {
  kubeconfigPath: string;
  nodeName: string;
  nodeDir: string;
  capacity: Record<string, string>;
  extraLabels: Record<string, string>;
  podIpPrefix: string;
  apiServerHost: string;
  apiServerPort: number;
  logLevel: string;
  /** Path of a JSON file with extra image map entries, if any. */
  imagesFile: string | undefined;
}

/**
 * Parses the node's configuration from `env`. Returns the errors as one readable message
 * (one line per bad variable) rather than throwing, so `main` decides how to exit.
 */
export function parseNodeConfig(
  env: Record<string, string | undefined>,
): { ok: true; config: NodeConfig } | { ok: false; message: string } {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = issue.path[0] === undefined ? 'environment' : String(issue.path[0]);
      return `  ${name}: ${issue.message}`;
    });
    return { ok: false, message: `Invalid process node configuration:\n${lines.join('\n')}` };
  }
  const e = parsed.data;
  return {
    ok: true,
    config: {
      kubeconfigPath: e.LATHE_NODE_KUBECONFIG,
      nodeName: e.LATHE_NODE_NAME,
      nodeDir: e.LATHE_NODE_DIR,
      capacity: e.LATHE_NODE_CAPACITY ?? defaultCapacity,
      extraLabels: e.LATHE_NODE_LABELS ?? {},
      podIpPrefix: e.LATHE_NODE_POD_IP_PREFIX,
      apiServerHost: e.LATHE_API_SERVER_HOST,
      apiServerPort: e.LATHE_API_SERVER_PORT,
      logLevel: e.LATHE_NODE_LOG_LEVEL,
      imagesFile: e.LATHE_NODE_IMAGES,
    },
  };
}
