'use strict';
// All SQL lives here, always with $n parameters and never with user text spliced in, so the
// rest of the app deals in plain objects and the queries can be tested in one place.

/** Postgres' SQLSTATE for a unique constraint violation. */
const UNIQUE_VIOLATION = '23505';

/** Item columns returned to clients; owner_id stays internal. */
const ITEM_COLUMNS = 'id, title, notes, done, created_at, updated_at';

/**
 * Wraps `pool` (anything with pg's `query(text, params)`: a pg.Pool or a pg-mem pool).
 */
function createRepository(pool) {
  return {
    /** Resolves when the database answers; rejects with the driver's error otherwise. */
    async ping() {
      await pool.query('SELECT 1');
    },

    /** Inserts a user; returns `{ id, email }`, or null when the email is taken. */
    async createUser(email, passwordHash) {
      try {
        const { rows } = await pool.query(
          'INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id, email',
          [email, passwordHash],
        );
        return rows[0];
      } catch (err) {
        if (err.code === UNIQUE_VIOLATION) return null;
        throw err;
      }
    },

    /** Returns `{ id, email, password_hash }` or null. */
    async findUserByEmail(email) {
      const { rows } = await pool.query(
        'SELECT id, email, password_hash FROM users WHERE email = $1',
        [email],
      );
      return rows[0] || null;
    },

    async listItems(ownerId) {
      const { rows } = await pool.query(
        `SELECT ${ITEM_COLUMNS} FROM items WHERE owner_id = $1 ORDER BY id`,
        [ownerId],
      );
      return rows;
    },

    /** Returns the item, or null when it does not exist or belongs to someone else. */
    async getItem(ownerId, id) {
      const { rows } = await pool.query(
        `SELECT ${ITEM_COLUMNS} FROM items WHERE id = $1 AND owner_id = $2`,
        [id, ownerId],
      );
      return rows[0] || null;
    },

    async createItem(ownerId, { title, notes = '', done = false }) {
      const { rows } = await pool.query(
        `INSERT INTO items (owner_id, title, notes, done) VALUES ($1, $2, $3, $4)
         RETURNING ${ITEM_COLUMNS}`,
        [ownerId, title, notes, done],
      );
      return rows[0];
    },

    /**
     * Applies the fields present in `changes` (title, notes, done); absent ones keep their
     * value. Returns the updated item, or null when it is missing or someone else's.
     */
    async updateItem(ownerId, id, changes) {
      const value = (key) => (changes[key] === undefined ? null : changes[key]);
      const { rows } = await pool.query(
        `UPDATE items
            SET title = COALESCE($3, title),
                notes = COALESCE($4, notes),
                done = COALESCE($5, done),
                updated_at = now()
          WHERE id = $1 AND owner_id = $2
          RETURNING ${ITEM_COLUMNS}`,
        [id, ownerId, value('title'), value('notes'), value('done')],
      );
      return rows[0] || null;
    },

    /** Returns whether an item was deleted. */
    async deleteItem(ownerId, id) {
      const { rowCount } = await pool.query('DELETE FROM items WHERE id = $1 AND owner_id = $2', [
        id,
        ownerId,
      ]);
      return rowCount > 0;
    },
  };
}

module.exports = { createRepository };
