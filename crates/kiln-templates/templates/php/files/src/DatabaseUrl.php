<?php

declare(strict_types=1);

namespace App;

use InvalidArgumentException;
use PDO;

/**
 * Turns DATABASE_URL (`mysql://user:pass@127.0.0.1:3306/dbname`) into PDO arguments.
 * Error messages never include the password, because they end up in logs.
 */
final class DatabaseUrl
{
    private function __construct(
        public readonly string $dsn,
        public readonly string $user,
        #[\SensitiveParameter] public readonly string $password,
    ) {
    }

    public static function parse(#[\SensitiveParameter] string $url): self
    {
        $parts = parse_url($url);
        if ($parts === false || !isset($parts['scheme'], $parts['host'])) {
            throw new InvalidArgumentException(
                'DATABASE_URL is not a URL like mysql://user:password@127.0.0.1:3306/dbname'
            );
        }
        $scheme = strtolower($parts['scheme']);
        if ($scheme !== 'mysql' && $scheme !== 'mariadb') {
            throw new InvalidArgumentException("DATABASE_URL scheme must be mysql://, not $scheme://");
        }
        $name = rawurldecode(ltrim($parts['path'] ?? '', '/'));
        if ($name === '' || str_contains($name, '/')) {
            throw new InvalidArgumentException('DATABASE_URL must name one database, e.g. mysql://user:password@127.0.0.1:3306/dbname');
        }
        // Brackets come from IPv6 literals; PDO wants the bare address.
        $host = trim($parts['host'], '[]');
        $port = $parts['port'] ?? 3306;
        // PDO splits the DSN on ';', so a value containing one could smuggle in options.
        foreach (['host' => $host, 'database name' => $name] as $what => $value) {
            if (str_contains($value, ';') || str_contains($value, '=')) {
                throw new InvalidArgumentException("DATABASE_URL $what contains ';' or '='");
            }
        }
        return new self(
            "mysql:host=$host;port=$port;dbname=$name;charset=utf8mb4",
            rawurldecode($parts['user'] ?? ''),
            rawurldecode($parts['pass'] ?? ''),
        );
    }

    /** Opens the connection; fails within a few seconds when the server is unreachable. */
    public function connect(): PDO
    {
        return new PDO($this->dsn, $this->user, $this->password, [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
            PDO::ATTR_EMULATE_PREPARES => false,
            PDO::ATTR_TIMEOUT => 3,
        ]);
    }
}
