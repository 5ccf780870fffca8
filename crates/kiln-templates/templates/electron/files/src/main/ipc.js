// The main process's answers to the renderer. Channel names are shared with preload.cjs.

/** Every channel the main process handles, by name. */
export const CHANNELS = Object.freeze({
  kiln: 'kiln:get',
  version: 'app:version',
});

/**
 * Registers the handlers on `ipcMain` (Electron's, or any object with `handle(channel, fn)`).
 * `kiln` is the normalised kiln.json and `version` the build stamp. Handlers return copies,
 * so a renderer can never mutate the main process's state through structured clone quirks.
 */
export function registerIpcHandlers(ipcMain, { kiln, version }) {
  ipcMain.handle(CHANNELS.kiln, () => structuredClone(kiln));
  ipcMain.handle(CHANNELS.version, () => version);
}
