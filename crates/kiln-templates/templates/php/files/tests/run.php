<?php

declare(strict_types=1);

// Runs every tests/*Test.php file: `php tests/run.php`. Exits non-zero on any failure.

error_reporting(E_ALL);
// Warnings and notices are bugs here, not noise (unless silenced with @ on purpose).
set_error_handler(static function (int $level, string $message, string $file, int $line): bool {
    if ((error_reporting() & $level) === 0) {
        return false;
    }
    throw new ErrorException($message, 0, $level, $file, $line);
});

if (!extension_loaded('pdo_sqlite')) {
    fwrite(STDERR, "pdo_sqlite is missing: the repository tests run on in-memory SQLite; "
        . "install it (Debian/Ubuntu: apt-get install php-sqlite3)\n");
    exit(1);
}

require __DIR__ . '/../src/bootstrap.php';
require __DIR__ . '/lib.php';
require __DIR__ . '/support.php';

foreach (glob(__DIR__ . '/*Test.php') ?: [] as $file) {
    require $file;
}

exit(run_tests());
