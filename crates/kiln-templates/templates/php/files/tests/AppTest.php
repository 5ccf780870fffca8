<?php

declare(strict_types=1);

// The app in-process against kiln.json and an in-memory SQLite database.

test('GET / shows the project, title, brief and every story, escaped', function (): void {
    $kiln = kiln_data();
    $response = call(make_app(), 'GET', '/');
    assert_same(200, $response->status);
    assert_true(str_starts_with($response->headers['Content-Type'], 'text/html'), 'content type');
    $html = $response->body;
    assert_contains('<title>' . e($kiln['title']) . '</title>', $html);
    assert_contains('<h1>' . e($kiln['title']) . '</h1>', $html);
    assert_contains('>' . e($kiln['project']) . '<', $html, 'project name');
    assert_contains(e($kiln['brief']), $html, 'brief');
    foreach ($kiln['stories'] as $story) {
        // Whole element text, so a title that is merely a substring of the brief does not count.
        assert_contains('<h3>' . e($story['title']) . '</h3>', $html, 'story title');
        foreach ($story['acceptance'] as $criterion) {
            assert_contains('<li>' . e($criterion) . '</li>', $html, 'acceptance criterion');
        }
    }
});

test('GET / never prints user text raw and uses only relative URLs', function (): void {
    $hostile = call(make_app(kilnFile: __DIR__ . '/fixtures/hostile-kiln.json'), 'GET', '/')->body;
    assert_not_contains('<script>', $hostile, 'script injected');
    assert_contains('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;', $hostile);
    assert_contains('<h3>&lt;img src=x onerror=alert(1)&gt;</h3>', $hostile);
    assert_contains('&#039;', $hostile, 'single quotes are escaped');

    $html = call(make_app(), 'GET', '/')->body;
    assert_contains('href="styles.css"', $html, 'stylesheet link is relative');
    assert_same(0, preg_match('#(href|src)="/(?!/)#', $html), 'root-absolute URL on the page');
});

test('GET /healthz is ok when the database answers', function (): void {
    $response = call(make_app(), 'GET', '/healthz');
    assert_same(200, $response->status);
    assert_same(['status' => 'ok', 'database' => 'ok'], json_of($response));
});

test('GET /healthz is 503 when the database is down, with details only in the log', function (): void {
    $logs = [];
    $app = make_app($logs, static function (): PDO {
        throw new PDOException('SQLSTATE[HY000] [2002] Connection refused');
    });
    $response = call($app, 'GET', '/healthz');
    assert_same(503, $response->status);
    assert_same(['status' => 'unavailable', 'database' => 'unreachable'], json_of($response));
    assert_not_contains('2002', $response->body);
    assert_same(['health check: database unavailable: SQLSTATE[HY000] [2002] Connection refused'], $logs);

    assert_same(503, call($app, 'GET', '/api/items')->status, 'API answers 503 too');
    assert_same(200, call($app, 'GET', '/')->status, 'the page does not need the database');
});

test('GET /__kiln/version returns KILN_BUILD_SHA, or dev without it', function (): void {
    $saved = getenv('KILN_BUILD_SHA');
    try {
        putenv('KILN_BUILD_SHA=abc123def');
        $response = call(make_app(), 'GET', '/__kiln/version');
        assert_same(200, $response->status);
        assert_same('abc123def', $response->body);
        assert_true(str_starts_with($response->headers['Content-Type'], 'text/plain'), 'text/plain');
        putenv('KILN_BUILD_SHA');
        assert_same('dev', call(make_app(), 'GET', '/__kiln/version')->body);
    } finally {
        putenv($saved === false ? 'KILN_BUILD_SHA' : "KILN_BUILD_SHA=$saved");
    }
});

test('items can be created, read, listed, updated and deleted', function (): void {
    $app = make_app();
    $created = call($app, 'POST', '/api/items', ['title' => '  Buy flour ', 'notes' => 'tipo 00']);
    assert_same(201, $created->status);
    $item = json_of($created);
    assert_same('Buy flour', $item['title']);
    assert_same('tipo 00', $item['notes']);
    assert_same(false, $item['done']);
    assert_same(1, preg_match('/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/', $item['created_at']), 'ISO timestamp');
    assert_same("items/{$item['id']}", $created->headers['Location']);

    assert_same($item, json_of(call($app, 'GET', "/api/items/{$item['id']}")));
    assert_same([$item], json_of(call($app, 'GET', '/api/items'))['items']);

    $patched = json_of(call($app, 'PATCH', "/api/items/{$item['id']}", ['done' => true]));
    assert_same([true, 'Buy flour', 'tipo 00'], [$patched['done'], $patched['title'], $patched['notes']]);
    $cleared = json_of(call($app, 'PATCH', "/api/items/{$item['id']}", ['notes' => '']));
    assert_same('', $cleared['notes']);

    assert_same(204, call($app, 'DELETE', "/api/items/{$item['id']}")->status);
    assert_same(404, call($app, 'GET', "/api/items/{$item['id']}")->status);
    assert_same(404, call($app, 'DELETE', "/api/items/{$item['id']}")->status);
    assert_same(404, call($app, 'PATCH', "/api/items/{$item['id']}", ['done' => false])->status);
});

test('item bodies are validated field by field', function (): void {
    $app = make_app();
    $cases = [
        [[], 'title'],
        [['title' => '   '], 'title'],
        [['title' => str_repeat('x', 201)], 'title'],
        [['title' => 'ok', 'notes' => 5], 'notes'],
        [['title' => 'ok', 'done' => 'yes'], 'done'],
        [['title' => 'ok', 'id' => 7], 'id'],
    ];
    foreach ($cases as [$body, $field]) {
        $response = call($app, 'POST', '/api/items', $body);
        assert_same(400, $response->status, json_encode($body));
        assert_true(isset(json_of($response)['fields'][$field]), json_encode($body) . " should flag $field");
    }
    // Multi-byte titles are measured in characters, like MySQL's VARCHAR(200).
    assert_same(201, call($app, 'POST', '/api/items', ['title' => str_repeat('é', 200)])->status);
    assert_same(400, call($app, 'POST', '/api/items', ['title' => 'x'], raw: '["a"]')->status);

    $malformed = call($app, 'POST', '/api/items', raw: '{"title": ');
    assert_same(400, $malformed->status);
    assert_contains('not valid JSON', json_of($malformed)['error']);

    $empty = call($app, 'PATCH', '/api/items/1', raw: '{}');
    assert_same(400, $empty->status);
    assert_true(isset(json_of($empty)['fields']['body']), 'empty patch is refused');
});

test('unknown paths, impossible ids and wrong methods get 404 and 405', function (): void {
    $logs = [];
    $app = make_app($logs);
    foreach (['abc', '0', '-1', '1.5', '99999999999'] as $id) {
        assert_same(404, call($app, 'GET', "/api/items/$id")->status, "id $id");
    }
    assert_same(404, call($app, 'GET', '/nope')->status);
    $put = call($app, 'PUT', '/api/items/1', ['title' => 'x']);
    assert_same(405, $put->status);
    assert_same('GET, PATCH, DELETE', $put->headers['Allow']);
    assert_same(405, call($app, 'POST', '/healthz')->status);
    assert_same([], $logs, 'nothing was logged as an error');
});

test('an unexpected error is a 500 without details, logged', function (): void {
    $logs = [];
    $pdo = sqlite_pdo();
    $pdo->exec('DROP TABLE items');
    $app = make_app($logs, static fn (): PDO => $pdo);
    $response = call($app, 'GET', '/api/items');
    assert_same(500, $response->status);
    assert_same(['error' => 'internal server error'], json_of($response));
    assert_same(1, count($logs));
    assert_contains('no such table', $logs[0]);
});
