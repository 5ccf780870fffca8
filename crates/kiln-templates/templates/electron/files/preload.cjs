// Runs in the sandboxed renderer before the page, and is the page's only door to the main
// process: it exposes a few named calls, never ipcRenderer itself. CommonJS because sandboxed
// preloads cannot be ES modules.
const { contextBridge, ipcRenderer } = require('electron');

contextBridge.exposeInMainWorld('kiln', {
  /** The brief and stories from kiln.json. */
  get: () => ipcRenderer.invoke('kiln:get'),
  /** The build stamp of the running app. */
  version: () => ipcRenderer.invoke('app:version'),
});
