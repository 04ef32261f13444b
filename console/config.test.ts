import { describe, expect, it } from 'vitest';
import { ConfigError, loadConsoleConfig } from './config.js';

describe('loadConsoleConfig', () => {
  it('has defaults for everything', () => {
    expect(loadConsoleConfig({})).toEqual({
      logLevel: 'info',
      bindAddress: '0.0.0.0',
      port: 8080,
      watchNamespaces: [],
      secureCookie: false,
      reviewCacheSeconds: 30,
      objectStore: undefined,
      sampleIntervalSeconds: 20,
      samples: 180,
    });
  });

  it('reads every variable', () => {
    const config = loadConsoleConfig({
      LATHE_CONSOLE_PORT: '9090',
      LATHE_WATCH_NAMESPACES: 'a, b',
      LATHE_CONSOLE_SECURE_COOKIE: 'true',
      LATHE_CONSOLE_REVIEW_CACHE_SECONDS: '5',
      LATHE_CONSOLE_SAMPLE_INTERVAL_SECONDS: '2',
      LATHE_CONSOLE_SAMPLES: '30',
      LATHE_OBJECT_STORE_ENDPOINT: 'http://minio:9000',
      LATHE_OBJECT_STORE_ACCESS_KEY: 'k',
      LATHE_OBJECT_STORE_SECRET_KEY: 's',
    });
    expect(config.port).toBe(9090);
    expect(config.watchNamespaces).toEqual(['a', 'b']);
    expect(config.secureCookie).toBe(true);
    expect(config.reviewCacheSeconds).toBe(5);
    expect(config.sampleIntervalSeconds).toBe(2);
    expect(config.samples).toBe(30);
    expect(config.objectStore).toEqual({
      endpoint: 'http://minio:9000',
      accessKey: 'k',
      secretKey: 's',
      bucket: 'lathe',
      region: 'us-east-1',
    });
  });

  it('names every bad variable, and never shows a key', () => {
    let error: unknown;
    try {
      loadConsoleConfig({
        LATHE_CONSOLE_PORT: 'x',
        LATHE_CONSOLE_SECURE_COOKIE: 'maybe',
        LATHE_CONSOLE_SAMPLES: '1',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'LATHE_CONSOLE_PORT: must be a whole number from 0 to 65535 (got "x")',
      'LATHE_CONSOLE_SECURE_COOKIE: must be true or false (got "maybe")',
      'LATHE_CONSOLE_SAMPLES: must be a whole number from 2 to 10000 (got "1")',
    ]);
    expect(() => loadConsoleConfig({ LATHE_OBJECT_STORE_ACCESS_KEY: 'secret' })).toThrow(
      'LATHE_OBJECT_STORE_ENDPOINT: required when any of',
    );
  });
});
