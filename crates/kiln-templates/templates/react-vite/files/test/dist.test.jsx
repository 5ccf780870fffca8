// Checks the deployable build in dist/ (run `npm run build` first): the prerendered page must
// show the brief without JavaScript, load its assets relatively, and carry the build stamp.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StrictMode } from 'react';
import { hydrateRoot } from 'react-dom/client';
import { act, fireEvent } from '@testing-library/react';
import { beforeAll, expect, test } from 'vitest';
import App from '../src/App.jsx';
import { kiln as appKiln } from '../src/kiln.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const kiln = JSON.parse(readFileSync(join(root, 'kiln.json'), 'utf8'));

let html;
let doc;

beforeAll(() => {
  const page = join(dist, 'index.html');
  if (!existsSync(page)) {
    throw new Error(`${page} does not exist; run "npm run build" before "npm test"`);
  }
  html = readFileSync(page, 'utf8');
  doc = new DOMParser().parseFromString(html, 'text/html');
});

test('the built page names the project and shows the title without JavaScript', () => {
  expect(html).toContain(kiln.project);
  expect(doc.querySelector('meta[name="kiln-project"]').getAttribute('content')).toBe(kiln.project);
  expect(doc.title).toBe(kiln.title);
  expect(doc.querySelector('#root h1').textContent).toBe(kiln.title);
});

test('the built page lists every story title', () => {
  const titles = [...doc.querySelectorAll('#root section.story h3')].map((h) => h.textContent);
  expect(titles).toEqual(kiln.stories.map((story) => story.title));
});

test('assets are referenced relatively and exist', () => {
  expect(html).not.toMatch(/(src|href)="\/(?!\/)/);
  const refs = [...doc.querySelectorAll('script[src], link[href]')].map(
    (el) => el.getAttribute('src') || el.getAttribute('href'),
  );
  expect(refs.length).toBeGreaterThan(0);
  for (const ref of refs) {
    expect(existsSync(join(dist, ref)), `${ref} missing from dist/`).toBe(true);
  }
});

test('dist/__kiln/version holds exactly the build stamp', () => {
  const version = readFileSync(join(dist, '__kiln', 'version'), 'utf8');
  expect(version).toBe(process.env.KILN_BUILD_SHA || 'dev');
});

test('the browser app adopts the prerendered markup without mismatches and stays interactive', async () => {
  const container = document.createElement('div');
  container.innerHTML = doc.querySelector('#root').innerHTML;
  document.body.append(container);
  const errors = [];
  let root;
  await act(async () => {
    root = hydrateRoot(
      container,
      <StrictMode>
        <App kiln={appKiln} />
      </StrictMode>,
      { onRecoverableError: (error) => errors.push(error) },
    );
  });
  try {
    expect(errors).toEqual([]);
    const search = container.querySelector('input[type="search"]');
    if (search) {
      fireEvent.change(search, { target: { value: 'no story has this text' } });
      expect(container.querySelectorAll('section.story')).toHaveLength(0);
    }
  } finally {
    act(() => root.unmount());
    container.remove();
  }
});
