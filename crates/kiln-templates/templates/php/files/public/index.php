<?php

declare(strict_types=1);

// Front controller, and the router script for PHP's built-in server
// (`php -S 127.0.0.1:$PORT -t public public/index.php`): existing files under public/ are
// served as they are, everything else goes to the app.

if (PHP_SAPI === 'cli-server') {
    $path = parse_url((string) ($_SERVER['REQUEST_URI'] ?? '/'), PHP_URL_PATH);
    if (
        is_string($path) && $path !== '/' && !str_ends_with($path, '.php')
        && !str_contains($path, '..') && is_file(__DIR__ . $path)
    ) {
        return false;
    }
}

require __DIR__ . '/../src/bootstrap.php';

use App\App;
use App\DatabaseUrl;
use App\Kiln;
use App\Request;
use App\Response;

try {
    $kiln = Kiln::load(__DIR__ . '/../kiln.json');
} catch (Throwable $error) {
    error_log('cannot load kiln.json: ' . $error->getMessage());
    Response::text(500, 'kiln.json is missing or invalid')->send();
    return;
}

$app = new App($kiln, static function (): PDO {
    $url = getenv('DATABASE_URL');
    if (!is_string($url) || $url === '') {
        throw new RuntimeException(
            'DATABASE_URL is not set: Kiln sets it on deploy; for local development export '
            . 'DATABASE_URL=mysql://user:password@127.0.0.1:3306/dbname and apply db/schema.sql'
        );
    }
    return DatabaseUrl::parse($url)->connect();
});

$app->handle(Request::fromGlobals())->send();
