<?php

declare(strict_types=1);

// Parsing DATABASE_URL into PDO arguments.

use App\DatabaseUrl;

test('a mysql URL becomes a PDO DSN with user and password', function (): void {
    $url = DatabaseUrl::parse('mysql://app_user:s3cr%40t%2Fpw@127.0.0.1:3307/app_db');
    assert_same('mysql:host=127.0.0.1;port=3307;dbname=app_db;charset=utf8mb4', $url->dsn);
    assert_same('app_user', $url->user);
    assert_same('s3cr@t/pw', $url->password, 'percent-encoding is decoded');
});

test('the port defaults to 3306 and mariadb:// is accepted', function (): void {
    assert_same(
        'mysql:host=db.internal;port=3306;dbname=shop;charset=utf8mb4',
        DatabaseUrl::parse('mariadb://u:p@db.internal/shop')->dsn,
    );
    assert_same('', DatabaseUrl::parse('mysql://127.0.0.1/shop')->password);
});

test('bad URLs are refused with a message that never shows the password', function (): void {
    $cases = [
        ['postgres://u:hunter2@127.0.0.1/db', '/scheme must be mysql/'],
        ['mysql://u:hunter2@127.0.0.1/', '/must name one database/'],
        ['mysql://u:hunter2@127.0.0.1/a/b', '/must name one database/'],
        ['not a url', '/is not a URL/'],
        ['mysql://u:hunter2@127.0.0.1/db%3Bunix_socket%3Dx', "/contains ';'/"],
    ];
    foreach ($cases as [$url, $pattern]) {
        $error = assert_throws(InvalidArgumentException::class, fn () => DatabaseUrl::parse($url), $pattern);
        assert_not_contains('hunter2', $error->getMessage(), 'password leaked');
    }
});

test('connecting to a closed port fails fast with a PDOException', function (): void {
    $server = stream_socket_server('tcp://127.0.0.1:0');
    $port = (int) substr((string) strrchr(stream_socket_get_name($server, false), ':'), 1);
    fclose($server);
    $url = DatabaseUrl::parse("mysql://u:hunter2@127.0.0.1:$port/db");
    $error = assert_throws(PDOException::class, fn () => $url->connect());
    assert_not_contains('hunter2', $error->getMessage(), 'password leaked');
});
