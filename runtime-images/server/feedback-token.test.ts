import { mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerToken, FeedbackTokenFile, tokenOfFile, tokensMatch } from './feedback-token.js';

describe('bearerToken', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['Bearer   abc  ', 'abc'],
    ['Bearer', undefined],
    ['Bearer ', undefined],
    ['Basic YWJjOmRlZg==', undefined],
    ['Bearer a b', undefined],
    ['abc', undefined],
    [undefined, undefined],
  ])('reads %j as %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});

describe('tokenOfFile', () => {
  it.each([
    ['s3cret\n', 's3cret'],
    ['  s3cret  ', 's3cret'],
    ['', undefined],
    ['\n', undefined],
  ])('reads %j as %j', (text, token) => {
    expect(tokenOfFile(text)).toBe(token);
  });
});

describe('tokensMatch', () => {
  it.each([
    ['s3cret', 's3cret', true],
    ['s3cre', 's3cret', false],
    ['s3cret!', 's3cret', false],
    ['S3cret', 's3cret', false],
  ])('%j against %j is %j', (given, expected, match) => {
    expect(tokensMatch(given, expected)).toBe(match);
  });
});

describe('FeedbackTokenFile', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lathe-feedback-token-'));
    file = path.join(dir, 'token');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** Replaces the file as the kubelet updates a Secret volume: a new file renamed over it. */
  const replace = async (text: string) => {
    await writeFile(`${file}.new`, text);
    await rename(`${file}.new`, file);
  };

  it('disables feedback with 403 and says how to enable it when no file is configured', async () => {
    expect(await new FeedbackTokenFile(undefined).authorize('Bearer x')).toEqual({
      allowed: false,
      status: 403,
      message: expect.stringContaining(
        'no token is configured; to enable it, set spec.requestLogging.feedback.tokenSecretRef',
      ),
    });
  });

  it('is enabled for good only with a file configured (the server remembers requests only then)', () => {
    expect(new FeedbackTokenFile(undefined).enabled).toBe(false);
    // A configured file that is missing or empty now may be written later: still enabled.
    expect(new FeedbackTokenFile(path.join(dir, 'not-yet-written')).enabled).toBe(true);
  });

  it('takes the right token, refuses a missing or wrong one with 401, and follows a rotation', async () => {
    await replace('first-token\n');
    const tokens = new FeedbackTokenFile(file);
    expect(await tokens.authorize('Bearer first-token')).toEqual({ allowed: true });
    expect(await tokens.authorize(undefined)).toMatchObject({
      allowed: false,
      status: 401,
      message: expect.stringContaining('Authorization: Bearer <token>'),
    });
    expect(await tokens.authorize('Bearer second-token')).toEqual({
      allowed: false,
      status: 401,
      message: 'the bearer token is not valid',
    });

    await replace('second-token\n');
    expect(await tokens.authorize('Bearer second-token')).toEqual({ allowed: true });
    expect((await tokens.authorize('Bearer first-token')).allowed).toBe(false);
  });

  it('disables feedback (403) while the file is empty or missing, and logs an unreadable one', async () => {
    const failures: unknown[] = [];
    const tokens = new FeedbackTokenFile(file, (error) => failures.push(error));
    await replace('\n');
    expect(await tokens.authorize('Bearer ')).toMatchObject({ allowed: false, status: 403 });
    await unlink(file);
    expect(await tokens.authorize('Bearer second-token')).toMatchObject({
      allowed: false,
      status: 403,
      message: expect.stringContaining('its token file is missing or empty'),
    });
    expect(failures).toHaveLength(1);
    await replace('third-token');
    expect(await tokens.authorize('Bearer third-token')).toEqual({ allowed: true });
  });
});
