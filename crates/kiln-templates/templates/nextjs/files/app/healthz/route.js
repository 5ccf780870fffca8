// Evaluated per request, so a 200 means the server is answering now.
export const dynamic = 'force-dynamic';

export function GET() {
  return Response.json({ status: 'ok' });
}
