// Read at build time and again by `next start`; Kiln sets the same BASE_PATH for both.
import { normaliseBasePath } from './lib/base-path.js';

const basePath = normaliseBasePath(process.env.BASE_PATH);

/** @type {import('next').NextConfig} */
const nextConfig = {
  // Kiln's proxy serves the app under BASE_PATH but strips it before forwarding, so routes
  // stay at `/` (no `basePath`) while the browser must request /_next assets through the
  // prefix. An empty prefix means "served at the root".
  assetPrefix: basePath || undefined,
  poweredByHeader: false,
  async rewrites() {
    // App Router treats folders starting with `_` as private, so the build stamp route
    // lives at /kiln-version and is exposed under the path Kiln checks.
    return [{ source: '/__kiln/version', destination: '/kiln-version' }];
  },
};

export default nextConfig;
