import { StrictMode } from 'react';
import { createRoot, hydrateRoot } from 'react-dom/client';
import App from './App.jsx';
import { kiln } from './kiln.js';
import './styles.css';

// The build writes <title> into index.html; the dev server's shell has none.
document.title = kiln.title;

const root = document.getElementById('root');
const app = (
  <StrictMode>
    <App kiln={kiln} />
  </StrictMode>
);

// The production build ships prerendered markup, which React adopts (hydrates); the dev
// server serves the bare shell, which React fills from scratch.
if (root.firstElementChild) {
  hydrateRoot(root, app);
} else {
  createRoot(root).render(app);
}
