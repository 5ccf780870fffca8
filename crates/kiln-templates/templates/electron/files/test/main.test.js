// Main-process logic without Electron: the binary is not needed to check what the app asks
// Electron to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHANNELS, registerIpcHandlers } from '../src/main/ipc.js';
import { loadKiln, normaliseKiln } from '../src/main/kiln.js';
import { isAllowedNavigation, windowOptions } from '../src/main/window.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kiln = loadKiln(join(root, 'kiln.json'));

test('the window is titled from kiln.json and its renderer is isolated and sandboxed', () => {
  const options = windowOptions({ title: kiln.title, root });
  assert.equal(options.title, kiln.title);
  assert.equal(options.webPreferences.contextIsolation, true);
  assert.equal(options.webPreferences.nodeIntegration, false);
  assert.equal(options.webPreferences.sandbox, true);
  assert.ok(isAbsolute(options.webPreferences.preload), 'preload path must be absolute');
  assert.ok(existsSync(options.webPreferences.preload), 'preload script missing');
});

test('only the app page itself may be navigated to', () => {
  const page = 'file:///opt/app/renderer/index.html';
  assert.equal(isAllowedNavigation(page, page), true);
  assert.equal(isAllowedNavigation(`${page}#story-2`, page), true);
  assert.equal(isAllowedNavigation('https://example.com/', page), false);
  assert.equal(isAllowedNavigation('file:///etc/passwd', page), false);
  assert.equal(isAllowedNavigation('not a url', page), false);
});

/** Stands in for Electron's ipcMain: records handlers so tests can invoke them. */
function recordingIpcMain() {
  const handlers = new Map();
  return {
    handlers,
    handle(channel, fn) {
      assert.ok(!handlers.has(channel), `channel ${channel} registered twice`);
      handlers.set(channel, fn);
    },
    invoke(channel, ...args) {
      const fn = handlers.get(channel);
      assert.ok(fn, `no handler for ${channel}`);
      return fn({ sender: null }, ...args);
    },
  };
}

test('IPC handlers answer with kiln.json and the build stamp', () => {
  const ipc = recordingIpcMain();
  registerIpcHandlers(ipc, { kiln, version: 'abc123' });
  assert.deepEqual([...ipc.handlers.keys()].sort(), Object.values(CHANNELS).sort());
  assert.deepEqual(ipc.invoke(CHANNELS.kiln), kiln);
  assert.equal(ipc.invoke(CHANNELS.version), 'abc123');
});

test('the kiln handler hands out copies, so callers cannot change the main process state', () => {
  const ipc = recordingIpcMain();
  registerIpcHandlers(ipc, { kiln, version: 'dev' });
  const copy = ipc.invoke(CHANNELS.kiln);
  copy.title = 'changed';
  copy.stories.push({ title: 'extra', description: '', acceptance: [] });
  assert.deepEqual(ipc.invoke(CHANNELS.kiln), kiln);
});

test('kiln.json is loaded with every field present; missing ones are filled', () => {
  assert.match(kiln.project, /^[a-z][a-z0-9-]*$/);
  assert.ok(kiln.title.length > 0);
  assert.deepEqual(normaliseKiln({ project: 'p', stories: [{ acceptance: 'x' }] }), {
    project: 'p',
    title: 'p',
    brief: '',
    epic: '',
    stories: [{ title: '', description: '', acceptance: [] }],
  });
});
