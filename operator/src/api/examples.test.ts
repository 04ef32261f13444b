import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  exampleFiles,
  examplesDir,
  loadExample,
  loadExampleFile,
  moreExampleFiles,
} from './testdata/examples.js';
import { schemaOfKind } from './testdata/schemas.js';
import { describeZodError } from './validation-errors.js';

describe('examples/', () => {
  it('has one manifest per kind, the listed variants, and nothing else', () => {
    const manifests = readdirSync(examplesDir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.yaml'));
    expect(manifests.sort()).toEqual(
      [...Object.values(exampleFiles), ...Object.keys(moreExampleFiles)].sort(),
    );
  });

  it.each(Object.entries(moreExampleFiles))('%s parses as a %s', (file, kind) => {
    const result = schemaOfKind[kind].safeParse(loadExampleFile(file));
    expect(result.success, result.success ? '' : describeZodError(result.error)).toBe(true);
  });

  it.each(Object.keys(exampleFiles) as (keyof typeof exampleFiles)[])('%s parses', (kind) => {
    const result = schemaOfKind[kind].safeParse(loadExample(kind));
    expect(result.success, result.success ? '' : describeZodError(result.error)).toBe(true);
  });
});
