/**
 * The host forwarder: TCP listeners on the host's end of the node link (`hostAddress`) that
 * pipe each connection to a server on the host's loopback (the API server, MinIO, ...).
 *
 *   node --import tsx e2e/cluster/host-forwarder.ts
 *   LATHE_FORWARDS='[{"name":"kube-apiserver","listen":"10.250.3.1:6443","target":"127.0.0.1:41234"}]'
 *
 * Why: the cluster's components bind 127.0.0.1, which is never routed, and a DNAT rule in the
 * host namespace is not allowed. A plain userspace relay needs neither; the pods, kube-proxy
 * and CoreDNS in the node namespace reach it by routing to `hostAddress`, and the EndpointSlices
 * of the `kubernetes` Service and of every host service point at it.
 */
import net from 'node:net';
import { z } from 'zod';

const endpoint = z.string().regex(/^[\d.]+:\d{1,5}$/, 'must be "ipv4:port"');
const forwardsSchema = z.array(z.object({ name: z.string(), listen: endpoint, target: endpoint }));

function split(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

function log(msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);
}

function relay(client: net.Socket, target: { host: string; port: number }): void {
  const upstream = net.connect(target);
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  client.pipe(upstream);
  upstream.pipe(client);
}

const parsed = forwardsSchema.safeParse(
  (() => {
    try {
      return JSON.parse(process.env.LATHE_FORWARDS ?? '');
    } catch {
      return undefined;
    }
  })(),
);
if (!parsed.success) {
  process.stderr.write(
    `host forwarder: LATHE_FORWARDS must be a JSON array of {name, listen, target}: ${parsed.error.message}\n`,
  );
  process.exit(2);
}

const servers = parsed.data.map((forward) => {
  const target = split(forward.target);
  const server = net.createServer((socket) => relay(socket, target));
  server.on('error', (error) => {
    process.stderr.write(
      `host forwarder: ${forward.name} on ${forward.listen}: ${error.message}\n`,
    );
    process.exit(1);
  });
  server.listen(split(forward.listen), () => log('Listening', forward));
  return server;
});

process.on('SIGTERM', () => {
  for (const server of servers) server.close();
  process.exit(0);
});
