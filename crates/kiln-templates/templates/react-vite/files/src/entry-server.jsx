// Built with `vite build --ssr` and used only by scripts/prerender.js at build time, so the
// deployed index.html carries the rendered page for visitors, crawlers and Kiln's checks.
import { StrictMode } from 'react';
import { renderToString } from 'react-dom/server';
import App from './App.jsx';
import { kiln } from './kiln.js';

/** The rendered app plus the data the document head needs. */
export function render() {
  const html = renderToString(
    <StrictMode>
      <App kiln={kiln} />
    </StrictMode>,
  );
  return { html, title: kiln.title, project: kiln.project };
}
