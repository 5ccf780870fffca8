// Runs preload.cjs as Electron would, with a stand-in `electron` module, to check that the
// page gets exactly the promised API and that it calls the channels the main process handles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { CHANNELS } from '../src/main/ipc.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function runPreload() {
  const exposed = {};
  const invoked = [];
  const electron = {
    contextBridge: {
      exposeInMainWorld(name, api) {
        exposed[name] = api;
      },
    },
    ipcRenderer: {
      invoke(channel, ...args) {
        invoked.push(channel);
        return Promise.resolve({ channel, args });
      },
    },
  };
  const require = (name) => {
    if (name !== 'electron') throw new Error(`sandboxed preload may not require ${name}`);
    return electron;
  };
  const code = readFileSync(join(root, 'preload.cjs'), 'utf8');
  vm.runInNewContext(code, { require, module: { exports: {} }, exports: {} });
  return { exposed, invoked };
}

test('the preload exposes window.kiln with get() and version() only', () => {
  const { exposed } = runPreload();
  assert.deepEqual(Object.keys(exposed), ['kiln']);
  assert.deepEqual(Object.keys(exposed.kiln).sort(), ['get', 'version']);
});

test('the preload calls the channels the main process registers', async () => {
  const { exposed, invoked } = runPreload();
  assert.equal((await exposed.kiln.get()).channel, CHANNELS.kiln);
  assert.equal((await exposed.kiln.version()).channel, CHANNELS.version);
  assert.deepEqual(invoked, [CHANNELS.kiln, CHANNELS.version]);
});
