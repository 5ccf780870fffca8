'use strict';
// Password hashing and JWT handling. bcryptjs is pure JavaScript, so installs need no
// compiler; tokens are HS256 only, and verification pins the algorithm so a token cannot
// choose a weaker one (e.g. "none").

const crypto = require('node:crypto');
const bcrypt = require('bcryptjs');
const jwt = require('jsonwebtoken');

const ALGORITHM = 'HS256';
const BCRYPT_ROUNDS = 10;
/** HS256 keys shorter than the hash output make brute-forcing a captured token easier. */
const MIN_SECRET_LENGTH = 32;
const TOKEN_TTL_SECONDS = 60 * 60;

/**
 * The signing secret: JWT_SECRET when set, otherwise a random one for this process only.
 * Nothing is derived from predictable data, and the secret itself is never logged.
 * @param {NodeJS.ProcessEnv} env
 * @param {(message: string) => void} warn
 */
function resolveJwtSecret(env = process.env, warn = console.warn) {
  const configured = env.JWT_SECRET;
  if (configured !== undefined && configured !== '') {
    if (configured.length < MIN_SECRET_LENGTH) {
      throw new Error(
        `JWT_SECRET is too short (${configured.length} characters): use at least ` +
          `${MIN_SECRET_LENGTH}, e.g. the output of \`openssl rand -hex 32\``,
      );
    }
    return configured;
  }
  warn(
    'JWT_SECRET is not set: using a random secret for this process, so issued tokens ' +
      'stop working when the app restarts; set JWT_SECRET to keep them valid',
  );
  return crypto.randomBytes(48).toString('base64url');
}

function hashPassword(password) {
  return bcrypt.hash(password, BCRYPT_ROUNDS);
}

function checkPassword(password, hash) {
  return bcrypt.compare(password, hash);
}

/** A hash of a random password, compared against when the user does not exist so a failed
 * login takes as long either way and does not reveal which emails are registered. */
const DUMMY_HASH = bcrypt.hashSync(crypto.randomBytes(16).toString('hex'), BCRYPT_ROUNDS);

function issueToken(secret, user) {
  const token = jwt.sign({ email: user.email }, secret, {
    algorithm: ALGORITHM,
    subject: String(user.id),
    expiresIn: TOKEN_TTL_SECONDS,
  });
  return { token, token_type: 'Bearer', expires_in: TOKEN_TTL_SECONDS };
}

/**
 * Express middleware: requires `Authorization: Bearer <token>` and sets `req.user` to
 * `{ id, email }`. Answers 401 with a WWW-Authenticate challenge otherwise (RFC 6750).
 */
function requireAuth(secret) {
  return (req, res, next) => {
    const header = req.get('authorization') || '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      res.set('WWW-Authenticate', 'Bearer');
      return res.status(401).json({ error: 'missing bearer token' });
    }
    let claims;
    try {
      claims = jwt.verify(match[1], secret, { algorithms: [ALGORITHM] });
    } catch (err) {
      const reason = err instanceof jwt.TokenExpiredError ? 'token expired' : 'invalid token';
      res.set('WWW-Authenticate', `Bearer error="invalid_token", error_description="${reason}"`);
      return res.status(401).json({ error: reason });
    }
    const id = Number(claims.sub);
    if (!Number.isSafeInteger(id) || id <= 0) {
      res.set('WWW-Authenticate', 'Bearer error="invalid_token"');
      return res.status(401).json({ error: 'invalid token' });
    }
    req.user = { id, email: claims.email };
    return next();
  };
}

module.exports = {
  ALGORITHM,
  DUMMY_HASH,
  MIN_SECRET_LENGTH,
  TOKEN_TTL_SECONDS,
  checkPassword,
  hashPassword,
  issueToken,
  requireAuth,
  resolveJwtSecret,
};
