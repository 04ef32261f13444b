import { describe, expect, it } from 'vitest';
import { escapeHtml, html, raw } from './html.js';

describe('html', () => {
  it.each([
    ['<script>alert(1)</script>', '&lt;script&gt;alert(1)&lt;/script&gt;'],
    [`a"b'c&d`, 'a&quot;b&#39;c&amp;d'],
    ['plain', 'plain'],
    ['<<a && b>>', '&lt;&lt;a &amp;&amp; b&gt;&gt;'],
  ])('escapes %s', (input, expected) => {
    expect(escapeHtml(input)).toBe(expected);
    expect(html`<td>${input}</td>`.text).toBe(`<td>${expected}</td>`);
  });

  it('inserts fragments and raw markup as they are, joins arrays, drops empty values', () => {
    const rows = ['a', '<b>'].map((name) => html`<li>${name}</li>`);
    expect(html`<ul>${rows}</ul>${null}${undefined}${false}${raw('<svg/>')}${3}`.text).toBe(
      '<ul><li>a</li><li>&lt;b&gt;</li></ul><svg/>3',
    );
  });
});
