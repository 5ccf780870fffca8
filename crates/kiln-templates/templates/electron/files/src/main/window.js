// BrowserWindow settings and navigation rules, as plain data and functions so they are
// testable without Electron.
import { join } from 'node:path';

/**
 * Options for the main window. The renderer shows user-supplied text, so it runs isolated
 * and sandboxed with no Node access; preload.cjs is its only bridge to the main process.
 */
export function windowOptions({ title, root }) {
  return {
    width: 1024,
    height: 768,
    minWidth: 480,
    minHeight: 360,
    title,
    show: true,
    backgroundColor: '#f7f5f2',
    webPreferences: {
      preload: join(root, 'preload.cjs'),
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
    },
  };
}

/** Only the app's own page may be loaded in its window (reloads included). */
export function isAllowedNavigation(url, pageUrl) {
  try {
    const target = new URL(url);
    const page = new URL(pageUrl);
    return target.protocol === 'file:' && target.pathname === page.pathname;
  } catch {
    return false;
  }
}
