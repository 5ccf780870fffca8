// Served at /__kiln/version through a rewrite in next.config.js. Read per request from the
// environment, never baked in at build time, so the answer is the running process's truth.
export const dynamic = 'force-dynamic';

export function GET() {
  return new Response(process.env.KILN_BUILD_SHA || 'dev', {
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
  });
}
