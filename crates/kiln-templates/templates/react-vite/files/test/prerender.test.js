import { expect, test } from 'vitest';
import { APP_MARKER, HEAD_MARKER, escapeHtml, injectPrerender } from '../scripts/html.js';

const shell = `<head>${HEAD_MARKER}</head><body><div id="root">${APP_MARKER}</div></body>`;

test('injectPrerender fills both markers and escapes the title', () => {
  const out = injectPrerender(shell, {
    appHtml: '<h1>x</h1>',
    title: 'Fish & <Chips> "now"',
    project: 'demo',
  });
  expect(out).toContain('<title>Fish &amp; &lt;Chips&gt; &quot;now&quot;</title>');
  expect(out).toContain('<meta name="kiln-project" content="demo">');
  expect(out).toContain('<div id="root"><h1>x</h1></div>');
  expect(out).not.toContain(HEAD_MARKER);
  expect(out).not.toContain(APP_MARKER);
});

test('replacement patterns in user text are kept literally', () => {
  const out = injectPrerender(shell, { appHtml: '$&', title: "$' $`", project: 'demo' });
  expect(out).toContain("<title>$&#39; $`</title>");
  expect(out).toContain('<div id="root">$&</div>');
});

test('a shell without markers is refused with the missing marker named', () => {
  expect(() => injectPrerender('<div id="root"></div>', { appHtml: '', title: '', project: '' }))
    .toThrow(HEAD_MARKER);
});

test('escapeHtml escapes the five special characters', () => {
  expect(escapeHtml(`<a href="x">'&'</a>`)).toBe(
    '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;',
  );
});
