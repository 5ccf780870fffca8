// Renderer entry. Inside Electron, preload.cjs provides `window.kiln` and the page is rendered
// from the main process's data. On the web build the page arrives prerendered, so there is
// nothing to do.
import { renderApp } from './render.js';

async function main() {
  if (!window.kiln) return;
  const [kiln, version] = await Promise.all([window.kiln.get(), window.kiln.version()]);
  document.title = kiln.title;
  document.getElementById('app').innerHTML = renderApp(kiln);
  document.documentElement.dataset.version = version;
}

main().catch((error) => {
  console.error('cannot render the app', error);
});
