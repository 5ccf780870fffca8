<?php

declare(strict_types=1);

// ItemRepository's SQL on in-memory SQLite, and the SQLite test schema kept in step with
// the MySQL one in db/schema.sql.

use App\ItemRepository;

/** Column names of the items table declared in a CREATE TABLE statement. */
function declared_columns(string $sql): array
{
    preg_match('/CREATE TABLE IF NOT EXISTS items \((.*)\)/s', $sql, $match);
    preg_match_all('/^\s*([a-z_]+)\s+[A-Z]/m', $match[1] ?? '', $columns);
    return $columns[1];
}

test('the SQLite test schema has the same columns as db/schema.sql', function (): void {
    $mysql = declared_columns((string) file_get_contents(ROOT . '/db/schema.sql'));
    $sqlite = declared_columns((string) file_get_contents(__DIR__ . '/schema.sqlite.sql'));
    assert_same(['id', 'title', 'notes', 'done', 'created_at', 'updated_at'], $mysql);
    assert_same($mysql, $sqlite, 'tests/schema.sqlite.sql drifted from db/schema.sql');
});

test('db/schema.sql only creates tables if they do not exist (deploys re-run it)', function (): void {
    $sql = (string) file_get_contents(ROOT . '/db/schema.sql');
    preg_match_all('/\bCREATE\s+(\w+)(\s+IF\s+NOT\s+EXISTS)?/i', $sql, $creates, PREG_SET_ORDER);
    assert_true($creates !== [], 'schema creates nothing');
    foreach ($creates as $create) {
        assert_true(($create[2] ?? '') !== '', "\"{$create[0]}\" is not idempotent");
    }
    assert_same(0, preg_match('/\b(DROP|TRUNCATE|DELETE)\b/i', $sql), 'schema must not destroy data');

    $pdo = sqlite_pdo();
    $repository = new ItemRepository($pdo);
    $repository->create(['title' => 'kept']);
    $pdo->exec((string) file_get_contents(__DIR__ . '/schema.sqlite.sql'));
    assert_same('kept', $repository->all()[0]['title']);
});

test('create, find, update and delete round-trip through SQL', function (): void {
    $repository = new ItemRepository(sqlite_pdo());
    $first = $repository->create(['title' => 'first']);
    $second = $repository->create(['title' => 'second', 'notes' => 'n', 'done' => true]);
    assert_same([['first', '', false], ['second', 'n', true]], array_map(
        static fn (array $item): array => [$item['title'], $item['notes'], $item['done']],
        $repository->all(),
    ));
    assert_true($second['id'] > $first['id'], 'ids increase');

    $updated = $repository->update($second['id'], ['done' => false]);
    assert_same(['second', 'n', false], [$updated['title'], $updated['notes'], $updated['done']]);
    assert_same(null, $repository->update(999, ['title' => 'x']));
    assert_same(null, $repository->find(999));

    assert_same(true, $repository->delete($first['id']));
    assert_same(false, $repository->delete($first['id']));
    assert_same([$second['id']], array_column($repository->all(), 'id'));
});

test('user text is bound as parameters, never spliced into SQL', function (): void {
    $repository = new ItemRepository(sqlite_pdo());
    $title = "x'); DROP TABLE items; --";
    $item = $repository->create(['title' => $title, 'notes' => "O'Brien \"quoted\""]);
    assert_same($title, $repository->find($item['id'])['title']);
    assert_same("O'Brien \"quoted\"", $repository->find($item['id'])['notes']);
    assert_same(1, count($repository->all()));
});

test('ping answers on a working database', function (): void {
    $pdo = sqlite_pdo();
    (new ItemRepository($pdo))->ping();
    assert_same('1', (string) $pdo->query('SELECT 1')->fetchColumn());
});
