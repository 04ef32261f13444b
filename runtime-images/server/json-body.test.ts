import { describe, expect, it } from 'vitest';
import {
  checkJsonContentType,
  offsetBeyondDepth,
  parseJsonBody,
  UnsupportedMediaTypeError,
} from './json-body.js';
import { BadRequestError } from './rows.js';

const deep = (open: string, close: string, depth: number, inner = '1') =>
  open.repeat(depth) + inner + close.repeat(depth);

describe('checkJsonContentType', () => {
  it.each([
    'application/json',
    'Application/JSON',
    'application/json; charset=utf-8',
    'application/json;charset="UTF-8"',
    'application/json; charset=utf8; foo=bar',
  ])('accepts %s', (header) => {
    expect(() => checkJsonContentType(header)).not.toThrow();
  });

  it.each([
    [undefined, 'the request has no Content-Type'],
    ['', 'the request has no Content-Type'],
    ['text/plain', 'Content-Type "text/plain" is not supported'],
    ['text/plain;charset=UTF-8', 'Content-Type "text/plain;charset=UTF-8" is not supported'],
    ['application/x-www-form-urlencoded', 'is not supported; send the body as application/json'],
    ['multipart/form-data; boundary=x', 'is not supported'],
    ['application/jsonp', 'is not supported'],
    ['application/json; charset=latin1', 'charset "latin1" is not supported'],
  ])('refuses %s with 415', (header, message) => {
    expect(() => checkJsonContentType(header)).toThrow(UnsupportedMediaTypeError);
    expect(() => checkJsonContentType(header)).toThrow(message);
  });
});

describe('offsetBeyondDepth', () => {
  it.each([
    ['flat', '{"a": [1, 2, 3]}', 2, -1],
    ['exactly at the limit', deep('[', ']', 4), 4, -1],
    ['one beyond', deep('[', ']', 5), 4, 4],
    ['objects count', '{"a":{"b":{"c":1}}}', 2, 10],
    ['brackets in strings do not count', '["[[[[[[", "{{{{{"]', 1, -1],
    ['escaped quotes stay in the string', '["\\"[[[[", 1]', 1, -1],
    ['an escaped backslash ends before the quote', '["\\\\", [[1]]]', 2, 8],
    ['closing brackets make room again', '[[1],[2],[3]]', 2, -1],
    ['multi-byte characters', '["é[[[", ["ü"]]', 2, -1],
  ])('%s', (_name, text, maxDepth, expected) => {
    expect(offsetBeyondDepth(Buffer.from(text), maxDepth)).toBe(expected);
  });
});

describe('parseJsonBody', () => {
  it('parses a body within the limits', () => {
    expect(parseJsonBody(Buffer.from('{"instances": [[1, 2]]}'), 3)).toEqual({
      instances: [[1, 2]],
    });
  });

  it.each([
    ['an empty body', '', 'the request body is empty'],
    ['malformed JSON', '{"instances": [', 'the request body is not valid JSON'],
    ['NaN', '{"instances": [[NaN]]}', 'the request body is not valid JSON'],
    ['Infinity', '{"instances": [[Infinity]]}', 'the request body is not valid JSON'],
    [
      '10,000-deep arrays',
      `{"instances": ${deep('[', ']', 10_000)}}`,
      'the request body nests arrays and objects more than 32 deep (at byte 45); the limit is 32',
    ],
    [
      '10,000-deep objects',
      `{"instances": [${deep('{"a":', '}', 10_000)}]}`,
      'nests arrays and objects more than 32 deep',
    ],
  ])('refuses %s with a 400 saying so', (_name, text, message) => {
    expect(() => parseJsonBody(Buffer.from(text))).toThrow(BadRequestError);
    expect(() => parseJsonBody(Buffer.from(text))).toThrow(message);
  });

  it('never quotes more than a few characters of a malformed body', () => {
    const body = Buffer.from(`{"a": "${'x'.repeat(100_000)}", NaN}`);
    const message = (() => {
      try {
        parseJsonBody(body);
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message!.length).toBeLessThan(200);
  });
});
