<?php

declare(strict_types=1);

namespace App;

use PDO;

/**
 * Every SQL statement for items, always with bound parameters. The SQL is plain enough to
 * run unchanged on MySQL/MariaDB (production) and SQLite (tests); timestamps are set here
 * rather than by column defaults because the two databases spell those differently.
 */
final class ItemRepository
{
    private const COLUMNS = 'id, title, notes, done, created_at, updated_at';

    public function __construct(private readonly PDO $pdo)
    {
    }

    /** Throws when the database does not answer. */
    public function ping(): void
    {
        $this->pdo->query('SELECT 1')->fetchColumn();
    }

    /** @return list<array<string, mixed>> */
    public function all(): array
    {
        $rows = $this->pdo->query('SELECT ' . self::COLUMNS . ' FROM items ORDER BY id')->fetchAll(PDO::FETCH_ASSOC);
        return array_map(self::present(...), $rows);
    }

    /** @return array<string, mixed>|null */
    public function find(int $id): ?array
    {
        $statement = $this->pdo->prepare('SELECT ' . self::COLUMNS . ' FROM items WHERE id = :id');
        $statement->execute(['id' => $id]);
        $row = $statement->fetch(PDO::FETCH_ASSOC);
        return $row === false ? null : self::present($row);
    }

    /** @param array{title: string, notes?: string, done?: bool} $fields */
    public function create(array $fields): array
    {
        $now = self::now();
        $statement = $this->pdo->prepare(
            'INSERT INTO items (title, notes, done, created_at, updated_at)
             VALUES (:title, :notes, :done, :created_at, :updated_at)'
        );
        $statement->execute([
            'title' => $fields['title'],
            'notes' => $fields['notes'] ?? '',
            'done' => ($fields['done'] ?? false) ? 1 : 0,
            'created_at' => $now,
            'updated_at' => $now,
        ]);
        return $this->find((int) $this->pdo->lastInsertId());
    }

    /**
     * Changes only the fields given; returns the updated item or null when it does not exist.
     * @param array{title?: string, notes?: string, done?: bool} $fields
     */
    public function update(int $id, array $fields): ?array
    {
        $sets = ['updated_at = :updated_at'];
        $params = ['id' => $id, 'updated_at' => self::now()];
        // Column names come from this fixed list, never from the request.
        foreach (['title', 'notes', 'done'] as $column) {
            if (array_key_exists($column, $fields)) {
                $sets[] = "$column = :$column";
                $params[$column] = $column === 'done' ? ($fields[$column] ? 1 : 0) : $fields[$column];
            }
        }
        $statement = $this->pdo->prepare('UPDATE items SET ' . implode(', ', $sets) . ' WHERE id = :id');
        $statement->execute($params);
        // rowCount() is unreliable for "matched" on MySQL (it counts changed rows), so re-read.
        return $this->find($id);
    }

    public function delete(int $id): bool
    {
        $statement = $this->pdo->prepare('DELETE FROM items WHERE id = :id');
        $statement->execute(['id' => $id]);
        return $statement->rowCount() > 0;
    }

    private static function now(): string
    {
        return gmdate('Y-m-d H:i:s');
    }

    /** Normalises driver differences (strings vs ints, 0/1 vs bool) into one JSON shape. */
    private static function present(array $row): array
    {
        $iso = static fn (string $value): string => str_replace(' ', 'T', $value) . 'Z';
        return [
            'id' => (int) $row['id'],
            'title' => (string) $row['title'],
            'notes' => (string) $row['notes'],
            'done' => (bool) (int) $row['done'],
            'created_at' => $iso((string) $row['created_at']),
            'updated_at' => $iso((string) $row['updated_at']),
        ];
    }
}
