/// <reference types="vitest/config" />
import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The dev server forwards API and log traffic to a running Kiln (`kiln up`, port 8080 by
// default), so `npm run dev` shows real data with hot reload.
const api = process.env.KILN_API_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  // Relative asset URLs: the API answers index.html with a <base> leading back to the
  // dashboard's root, so the build works at `/` and under any path prefix.
  base: './',
  plugins: [react(), tailwindcss()],
  build: {
    outDir: 'dist',
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      '/api': api,
      '/health': api,
      '/ws': { target: api.replace(/^http/, 'ws'), ws: true },
    },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    testTimeout: 20_000,
  },
});
