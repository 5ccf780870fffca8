// Client-side checks that mirror the API's (crates/kiln-api/src/validate.rs and
// kiln_templates::validate_project_name) word for word, so the form explains a problem
// before sending and the text matches what the API would answer.

const NAME_RULE =
  "a name is 1 to 63 lowercase ASCII letters, digits and '-', starts with a letter and does not end with '-'";

/** Why `name` is not a valid project name, as the API words it; null when valid. */
export function nameProblem(name: string): string | null {
  const bytes = new TextEncoder().encode(name).length;
  let reason: string | null = null;
  if (bytes === 0 || bytes > 63) reason = 'must be 1 to 63 characters';
  else if (!/^[a-z0-9-]+$/.test(name)) reason = "use only lowercase ASCII letters, digits and '-'";
  else if (!/^[a-z]/.test(name)) reason = 'must start with a letter';
  else if (name.endsWith('-')) reason = "must not end with '-'";
  return reason && `invalid name ${JSON.stringify(name)}: ${reason} (${NAME_RULE})`;
}

export const EMPTY_BRIEF = 'brief must not be empty (it is empty or only whitespace)';

/** Why a budget limit is not usable: it must be a positive number (whole for counts). */
export function limitProblem(raw: string, whole: boolean): string | null {
  const t = raw.trim();
  if (!t) return null;
  const n = Number(t);
  if (!Number.isFinite(n) || n <= 0) return 'must be a positive number';
  if (whole && !Number.isInteger(n)) return 'must be a whole number';
  return null;
}
