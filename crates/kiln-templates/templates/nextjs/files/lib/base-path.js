/**
 * The path prefix the app is served under: "" or "/prefix" without a trailing slash, so it
 * can be joined with paths that start with "/".
 */
export function normaliseBasePath(value) {
  const trimmed = String(value ?? '').trim().replace(/\/+$/, '');
  if (trimmed === '') return '';
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}
