<?php

declare(strict_types=1);

namespace App;

/** The parts of an HTTP request the app uses, so handlers can be tested without a server. */
final class Request
{
    /** @param array<string, string> $headers lower-cased names */
    public function __construct(
        public readonly string $method,
        public readonly string $path,
        public readonly string $body = '',
        public readonly array $headers = [],
    ) {
    }

    public static function fromGlobals(): self
    {
        $headers = [];
        foreach ($_SERVER as $key => $value) {
            if (str_starts_with($key, 'HTTP_')) {
                $headers[strtolower(str_replace('_', '-', substr($key, 5)))] = (string) $value;
            }
        }
        if (isset($_SERVER['CONTENT_TYPE'])) {
            $headers['content-type'] = (string) $_SERVER['CONTENT_TYPE'];
        }
        $path = parse_url((string) ($_SERVER['REQUEST_URI'] ?? '/'), PHP_URL_PATH);
        return new self(
            strtoupper((string) ($_SERVER['REQUEST_METHOD'] ?? 'GET')),
            is_string($path) && $path !== '' ? $path : '/',
            (string) file_get_contents('php://input'),
            $headers,
        );
    }
}
