/** @jest-environment node */
const { escapeHtml, injectSummary } = require('../scripts/page');

const shell = '<html><head><title>x</title></head><body><div id="root"></div></body></html>';

test('injectSummary escapes the title and puts every story title into #root', () => {
  const kiln = { project: 'demo', title: 'A <b> & "c"', brief: '$& b', epic: '', stories: [{ title: '<i>one</i>' }, { title: 'two' }] };
  const html = injectSummary(shell, kiln);
  expect(html).toContain('<title>A &lt;b&gt; &amp; &quot;c&quot;</title>');
  expect(html).toContain('<meta name="kiln-project" content="demo">');
  expect(html).toContain('<h3>&lt;i&gt;one&lt;/i&gt;</h3>');
  expect(html).toContain('<h3>two</h3>');
  expect(html).toContain('<p>$&amp; b</p>');
  expect(html).not.toContain('<i>');
});

test('injectSummary refuses pages it cannot fill', () => {
  const kiln = { project: 'demo', title: 'T', brief: '', epic: '', stories: [] };
  expect(() => injectSummary('<title>x</title>', kiln)).toThrow('root');
  expect(() => injectSummary('<div id="root"></div>', kiln)).toThrow('<title>');
  expect(injectSummary(shell, kiln)).toContain('No stories yet.');
});

test('escapeHtml escapes the five special characters', () => {
  expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});
