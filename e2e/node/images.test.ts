import { describe, expect, it } from 'vitest';
import {
  builtInImages,
  imageFileMounts,
  imageNameOf,
  lookUpImage,
  parseExtraImages,
} from './images.js';

describe('imageNameOf', () => {
  it.each([
    ['lathe.dev/test/busybox', 'lathe.dev/test/busybox'],
    ['lathe.dev/test/busybox:1.36', 'lathe.dev/test/busybox'],
    ['lathe.dev/test/busybox@sha256:abcdef', 'lathe.dev/test/busybox'],
    ['lathe.dev/test/busybox:1.36@sha256:abcdef', 'lathe.dev/test/busybox'],
    ['localhost:5000/lathe/op', 'localhost:5000/lathe/op'],
    ['localhost:5000/lathe/op:v1', 'localhost:5000/lathe/op'],
    ['docker.io/library/busybox:latest', 'busybox'],
    ['busybox', 'busybox'],
    [' ghcr.io/lathe-dev/lathe-operator:0.1.0 ', 'ghcr.io/lathe-dev/lathe-operator'],
  ])('%s → %s', (image, expected) => {
    expect(imageNameOf(image)).toBe(expected);
  });
});

describe('lookUpImage', () => {
  it('finds built-ins whatever the tag', () => {
    expect(lookUpImage(builtInImages, 'lathe.dev/test/http:dev')).toBe(
      builtInImages['lathe.dev/test/http'],
    );
  });
  it('does not find unmapped images or prototype keys', () => {
    expect(lookUpImage(builtInImages, 'nginx:1.27')).toBeUndefined();
    expect(lookUpImage(builtInImages, 'constructor')).toBeUndefined();
  });
});

describe('parseExtraImages', () => {
  it('normalises names and keeps entries', () => {
    expect(
      parseExtraImages('{"example.com/x:1":{"entrypoint":["/bin/x"],"env":{"A":"1"}}}', 'f.json'),
    ).toEqual({ 'example.com/x': { entrypoint: ['/bin/x'], env: { A: '1' } } });
  });
  it.each([
    ['{', 'f.json: not valid JSON'],
    ['{"x":{"entrypoint":"/bin/x"}}', 'x.entrypoint'],
    ['{"x":{"entrypont":["/bin/x"]}}', 'f.json: invalid image map'],
  ])('rejects %s', (text, message) => {
    expect(() => parseExtraImages(text, 'f.json')).toThrow(message);
  });
});

describe('programs run from the repository', () => {
  it.each([
    'ghcr.io/lathe-dev/lathe-operator',
    'ghcr.io/lathe-dev/lathe-ingest',
    'ghcr.io/lathe-dev/lathe-trainer',
    'ghcr.io/lathe-dev/lathe-trainer-gpu',
    'ghcr.io/lathe-dev/lathe-trainer-sklearn',
    'ghcr.io/lathe-dev/lathe-trainer-pytorch',
    'lathe.dev/test/http',
  ])('%s keeps the repository visible over volumes', (image) => {
    const entry = builtInImages[image];
    expect(entry?.files).toEqual([entry?.workingDir]);
    expect(imageFileMounts(entry!)).toEqual([
      { hostPath: entry?.workingDir, containerPath: entry?.workingDir, readOnly: false },
    ]);
  });
});
