<?php

declare(strict_types=1);

// Shared fixtures: kiln.json, an in-memory SQLite database with the test schema, and the
// app wired to it.

use App\App;
use App\Kiln;
use App\Request;
use App\Response;

const ROOT = __DIR__ . '/..';

function kiln_data(): array
{
    return json_decode((string) file_get_contents(ROOT . '/kiln.json'), true, 64, JSON_THROW_ON_ERROR);
}

function sqlite_pdo(): PDO
{
    $pdo = new PDO('sqlite::memory:', null, null, [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
    ]);
    $pdo->exec((string) file_get_contents(__DIR__ . '/schema.sqlite.sql'));
    return $pdo;
}

/**
 * The app on a fresh SQLite database. Log lines are appended to $logs.
 * @param (Closure(): PDO)|null $connect defaults to a fresh in-memory database
 */
function make_app(array &$logs = [], ?Closure $connect = null, string $kilnFile = ROOT . '/kiln.json'): App
{
    $pdo = null;
    $connect ??= static function () use (&$pdo): PDO {
        return $pdo ??= sqlite_pdo();
    };
    return new App(Kiln::load($kilnFile), $connect, static function (string $line) use (&$logs): void {
        $logs[] = $line;
    });
}

function call(App $app, string $method, string $path, mixed $json = null, ?string $raw = null): Response
{
    $body = $raw ?? ($json === null ? '' : json_encode($json, JSON_THROW_ON_ERROR));
    return $app->handle(new Request($method, $path, $body, ['content-type' => 'application/json']));
}

function json_of(Response $response): array
{
    return json_decode($response->body, true, 64, JSON_THROW_ON_ERROR);
}

function e(string $text): string
{
    return htmlspecialchars($text, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
}
