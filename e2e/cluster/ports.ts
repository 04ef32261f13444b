/**
 * Ports for the local cluster's components and the tests' programs to listen on.
 *
 * `listen(0)` hands out a port of the kernel's ephemeral range — the range it also takes the
 * local end of every outgoing connection from. Between choosing such a port and a component
 * binding it (seconds later: kube-scheduler starts after the API server is ready) any outgoing
 * connection on the machine may take it, and the component fails with "address already in use"
 * (seen once, in CI). So ports are chosen below that range, where only listeners live: a random
 * one that can be bound now, never one this process handed out before.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** The lowest port chosen. */
const FLOOR = 20_000;

/** Ports handed out by this process (each is free only until its program binds it). */
const handedOut = new Set<number>();

/** The kernel's ephemeral range (Linux's default when it cannot be read). */
export function ephemeralPortRange(
  read: () => string = () => readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'),
): [number, number] {
  try {
    const [low, high] = read().trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low! <= high!) return [low!, high!];
  } catch {
    // Not Linux, or /proc not mounted: the default below.
  }
  return [32_768, 60_999];
}

/** Whether `port` can be bound on loopback now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port of the ephemeral range nobody listens on (the fallback). */
function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A loopback port nobody listens on now, below the ephemeral range (see above), not handed out
 * before by this process. Falls back to `listen(0)` when the range leaves no room below it.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralPortRange();
  if (low - FLOOR >= 1_000) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const port = FLOOR + Math.floor(Math.random() * (low - FLOOR));
      if (handedOut.has(port) || !(await canListen(port))) continue;
      handedOut.add(port);
      return port;
    }
  }
  const port = await ephemeralPort();
  handedOut.add(port);
  return port;
}
