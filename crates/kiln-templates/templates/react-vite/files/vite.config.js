// Relative asset URLs (`base: './'`) let the same build be served from `/` or from any
// path prefix such as `/apps/<name>/`, so the build never needs to know where it lands.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  base: './',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
  },
  test: {
    // A browser-like DOM for component tests; happy-dom is much lighter than jsdom.
    environment: 'happy-dom',
    // Tests run without network: never fetch the stylesheets or scripts a page links to.
    environmentOptions: {
      happyDOM: {
        settings: {
          disableCSSFileLoading: true,
          disableJavaScriptFileLoading: true,
          handleDisabledFileLoadingAsSuccess: true,
        },
      },
    },
    include: ['test/**/*.test.{js,jsx}'],
  },
});
