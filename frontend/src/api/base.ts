// Where the API lives: the same origin and path prefix the dashboard was served from. The API
// answers index.html with a <base href> leading back to the dashboard's root, so
// document.baseURI is that root under any reverse-proxy prefix.

/** The dashboard's root URL, ending in `/`. */
export function rootUrl(): URL {
  return new URL('./', document.baseURI);
}

/** Absolute URL of an API path such as `api/v1/tasks` (a leading `/` is ignored). */
export function apiUrl(path: string): string {
  return new URL(path.replace(/^\/+/, ''), rootUrl()).toString();
}

/** WebSocket URL of an API path, `wss:` when the page is served over HTTPS. */
export function wsUrl(path: string): string {
  const url = new URL(apiUrl(path));
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** The router's basename: the root's path without its trailing slash (`` at `/`). */
export function routerBasename(): string {
  return rootUrl().pathname.replace(/\/+$/, '');
}
