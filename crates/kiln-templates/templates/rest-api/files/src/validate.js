'use strict';
// Request body checks. Each returns `{ value }` or `{ errors }` (field -> message) so the
// API can tell clients exactly which field to fix.

/** One message for every missing field. */
const REQUIRED = 'required';
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const MAX_EMAIL = 254;
const MIN_PASSWORD = 8;
/** bcrypt ignores everything after 72 bytes; refusing longer input avoids a false sense of strength. */
const MAX_PASSWORD_BYTES = 72;
const MAX_TITLE = 200;
const MAX_NOTES = 2000;

const isObject = (body) => body !== null && typeof body === 'object' && !Array.isArray(body);

function result(value, errors) {
  return Object.keys(errors).length > 0 ? { errors } : { value };
}

/** Emails are compared lower-cased, so `A@x.io` and `a@x.io` are one account. */
function credentials(body) {
  if (!isObject(body)) return { errors: { body: 'expected a JSON object' } };
  const errors = {};
  const email = typeof body.email === 'string' ? body.email.trim().toLowerCase() : '';
  if (!email) errors.email = REQUIRED;
  else if (email.length > MAX_EMAIL || !EMAIL.test(email)) errors.email = 'not a valid email address';

  const { password } = body;
  if (typeof password !== 'string' || password === '') errors.password = REQUIRED;
  else if (password.length < MIN_PASSWORD) errors.password = `must be at least ${MIN_PASSWORD} characters`;
  else if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    errors.password = `must be at most ${MAX_PASSWORD_BYTES} bytes`;
  }
  return result({ email, password }, errors);
}

/**
 * Checks an item body. With `partial`, absent fields are allowed (PATCH) but at least one
 * must be present; otherwise `title` is required (POST).
 */
function item(body, { partial = false } = {}) {
  if (!isObject(body)) return { errors: { body: 'expected a JSON object' } };
  const errors = {};
  const value = {};
  const known = ['title', 'notes', 'done'];
  for (const key of Object.keys(body)) {
    if (!known.includes(key)) errors[key] = 'unknown field';
  }

  if (body.title !== undefined || !partial) {
    const title = typeof body.title === 'string' ? body.title.trim() : null;
    if (title === null || title === '') errors.title = 'required, a non-empty string';
    else if (title.length > MAX_TITLE) errors.title = `must be at most ${MAX_TITLE} characters`;
    else value.title = title;
  }
  if (body.notes !== undefined) {
    if (typeof body.notes !== 'string') errors.notes = 'must be a string';
    else if (body.notes.length > MAX_NOTES) errors.notes = `must be at most ${MAX_NOTES} characters`;
    else value.notes = body.notes;
  }
  if (body.done !== undefined) {
    if (typeof body.done !== 'boolean') errors.done = 'must be true or false';
    else value.done = body.done;
  }
  if (partial && Object.keys(body).length === 0) {
    errors.body = `give at least one of ${known.join(', ')}`;
  }
  return result(value, errors);
}

/** Parses a path id; null when it is not a positive 32-bit integer (so it cannot exist). */
function itemId(text) {
  if (!/^[1-9][0-9]{0,9}$/.test(text)) return null;
  const id = Number(text);
  return id <= 2147483647 ? id : null;
}

module.exports = { MAX_NOTES, MAX_TITLE, credentials, item, itemId };
