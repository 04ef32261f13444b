/**
 * A fresh certificate authority and the certificates of the local cluster, made with the
 * openssl command line (Node's crypto can verify certificates but not issue them).
 *
 * Keys are ECDSA P-256: generating them takes milliseconds, where RSA would dominate the warm
 * start time. Every identity is a real one that RBAC and the Node authorizer judge:
 * `system:masters` for the admin, the bootstrap users of the controller manager, scheduler and
 * kube-proxy, `system:node:<name>` for the process node, and `system:coredns`.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** A client or serving identity to issue a certificate for. */
export interface CertificateRequest {
  /** File name stem: `<name>.crt` and `<name>.key`. */
  name: string;
  commonName: string;
  organization?: string;
  usage: 'client' | 'server';
  /** Subject alternative names, e.g. `IP:127.0.0.1`, `DNS:localhost`. */
  altNames?: string[];
}

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
  /** `<name>` → `{ cert, key }` paths. */
  certs: Record<string, { cert: string; key: string }>;
}

/**
 * The identities the local cluster needs, for a node called `nodeName`. The API server's
 * certificate names every address it is reached at: loopback (host processes), the host
 * forwarder (the node namespace) and the `kubernetes` Service's ClusterIP (pods).
 */
export function clusterIdentities(
  nodeName: string,
  addresses: { hostAddress: string; kubernetesServiceIP: string; nodeAddress: string },
): CertificateRequest[] {
  return [
    {
      name: 'apiserver',
      commonName: 'kube-apiserver',
      usage: 'server',
      altNames: [
        'IP:127.0.0.1',
        `IP:${addresses.kubernetesServiceIP}`,
        `IP:${addresses.hostAddress}`,
        'DNS:localhost',
        'DNS:kubernetes',
        'DNS:kubernetes.default',
        'DNS:kubernetes.default.svc',
        'DNS:kubernetes.default.svc.cluster.local',
      ],
    },
    { name: 'admin', commonName: 'lathe-admin', organization: 'system:masters', usage: 'client' },
    { name: 'controller-manager', commonName: 'system:kube-controller-manager', usage: 'client' },
    { name: 'scheduler', commonName: 'system:kube-scheduler', usage: 'client' },
    {
      name: 'node',
      commonName: `system:node:${nodeName}`,
      organization: 'system:nodes',
      usage: 'client',
    },
    // The kubelet's API (logs, exec, port-forward), which the API server calls on the node's
    // address with its own client certificate, checked against the cluster's CA.
    {
      name: 'kubelet',
      commonName: `system:node:${nodeName}`,
      usage: 'server',
      altNames: [`IP:${addresses.nodeAddress}`, `DNS:${nodeName}`],
    },
    {
      name: 'apiserver-kubelet-client',
      commonName: 'kube-apiserver-kubelet-client',
      organization: 'system:masters',
      usage: 'client',
    },
    // Bound to `system:node-proxier` by the API server's bootstrap policy.
    { name: 'kube-proxy', commonName: 'system:kube-proxy', usage: 'client' },
    // Bound to the `system:coredns` ClusterRole the cluster creates (host-services.ts).
    { name: 'coredns', commonName: 'system:coredns', usage: 'client' },
  ];
}

/** The X.509 v3 extensions for a leaf certificate, as an openssl extension file. */
export function leafExtensions(request: CertificateRequest): string {
  const lines = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${request.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
  ];
  if (request.altNames?.length) lines.push(`subjectAltName=${request.altNames.join(',')}`);
  return `${lines.join('\n')}\n`;
}

function subjectOf(request: { commonName: string; organization?: string }): string {
  return `${request.organization ? `/O=${request.organization}` : ''}/CN=${request.commonName}`;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await exec('openssl', args);
  } catch (error) {
    throw new Error(
      `openssl ${args[0]} failed: ${(error as { stderr?: string }).stderr ?? error}`,
      {
        cause: error,
      },
    );
  }
}

const ecKey = (out: string) =>
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out]);

/** Creates a new CA, the service-account signing key pair and one certificate per request in `dir`. */
export async function generatePki(dir: string, requests: CertificateRequest[]): Promise<Pki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = (name: string) => path.join(dir, name);
  const caKey = file('ca.key');
  const caCert = file('ca.crt');
  await ecKey(caKey);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    caKey,
    '-subj',
    '/CN=lathe-local-ca',
    '-days',
    '3650',
    '-out',
    caCert,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);

  const serviceAccountKey = file('service-account.key');
  const serviceAccountPublicKey = file('service-account.pub');
  await ecKey(serviceAccountKey);
  await openssl(['pkey', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPublicKey]);

  const certs: Pki['certs'] = {};
  await Promise.all(
    requests.map(async (request) => {
      const key = file(`${request.name}.key`);
      const csr = file(`${request.name}.csr`);
      const cert = file(`${request.name}.crt`);
      const ext = file(`${request.name}.ext`);
      await ecKey(key);
      await openssl(['req', '-new', '-key', key, '-subj', subjectOf(request), '-out', csr]);
      await writeFile(ext, leafExtensions(request));
      await openssl([
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        caCert,
        '-CAkey',
        caKey,
        '-set_serial',
        `0x${randomSerial()}`,
        '-days',
        '365',
        '-extfile',
        ext,
        '-out',
        cert,
      ]);
      certs[request.name] = { cert, key };
    }),
  );
  return { dir, caCert, caKey, serviceAccountKey, serviceAccountPublicKey, certs };
}

function randomSerial(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('');
}

/** A kubeconfig for one identity, with every credential embedded so the file stands alone. */
export async function kubeconfigFor(
  pki: Pki,
  identity: string,
  server: string,
  contextName = 'lathe-local',
): Promise<string> {
  const b64 = async (p: string) => (await readFile(p)).toString('base64');
  const entry = pki.certs[identity];
  if (!entry) throw new Error(`no certificate issued for identity "${identity}"`);
  const [ca, cert, key] = await Promise.all([b64(pki.caCert), b64(entry.cert), b64(entry.key)]);
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${contextName}`,
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    `- name: ${identity}`,
    '  user:',
    `    client-certificate-data: ${cert}`,
    `    client-key-data: ${key}`,
    'contexts:',
    `- name: ${contextName}`,
    '  context:',
    `    cluster: ${contextName}`,
    `    user: ${identity}`,
    `current-context: ${contextName}`,
    '',
  ].join('\n');
}
