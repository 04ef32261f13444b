import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpKubeClient } from './kube-client.js';
import { builtin } from './resource.js';

describe('HttpKubeClient', () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('reuses one connection for consecutive requests, authenticating each', async () => {
    let connections = 0;
    const authorizations: (string | undefined)[] = [];
    server = http.createServer((req, res) => {
      authorizations.push(req.headers.authorization);
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }));
    });
    server.on('connection', () => {
      connections += 1;
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'secret-token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const client = new HttpKubeClient(kc);
    for (let i = 0; i < 5; i++) {
      const cm = await client.get(builtin.configMap, 'ns', 'c');
      expect(cm.metadata?.name).toBe('c');
    }
    expect(connections).toBe(1);
    expect(authorizations).toEqual(Array(5).fill('Bearer secret-token'));
  });
});
