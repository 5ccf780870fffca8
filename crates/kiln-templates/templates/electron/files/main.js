// Electron's main process. Kept thin: window options, IPC handlers, navigation rules and
// kiln.json loading live in src/main/ so plain Node tests can exercise them without Electron.
import { app, BrowserWindow, ipcMain, shell } from 'electron';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerIpcHandlers } from './src/main/ipc.js';
import { loadKiln } from './src/main/kiln.js';
import { isAllowedNavigation, windowOptions } from './src/main/window.js';

const root = dirname(fileURLToPath(import.meta.url));
const pageUrl = new URL('file://' + join(root, 'renderer', 'index.html')).href;

function createWindow(kiln) {
  const win = new BrowserWindow(windowOptions({ title: kiln.title, root }));
  win.loadURL(pageUrl);
  return win;
}

app.whenReady().then(() => {
  const kiln = loadKiln(join(root, 'kiln.json'));
  registerIpcHandlers(ipcMain, { kiln, version: process.env.KILN_BUILD_SHA || 'dev' });
  createWindow(kiln);
  // macOS keeps apps alive without windows; re-open one when the dock icon is clicked.
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow(kiln);
  });
});

// The renderer shows untrusted text; never let it navigate the window or open new ones.
// Web links open in the user's browser instead.
app.on('web-contents-created', (_event, contents) => {
  contents.on('will-navigate', (event, url) => {
    if (!isAllowedNavigation(url, pageUrl)) event.preventDefault();
  });
  contents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) shell.openExternal(url);
    return { action: 'deny' };
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
