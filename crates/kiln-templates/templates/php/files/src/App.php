<?php

declare(strict_types=1);

namespace App;

use Closure;
use JsonException;
use PDO;
use Throwable;

/**
 * Routes a Request to a Response. The database connection is opened lazily through
 * $connect, so pages that do not need it (/, /__kiln/version) work while it is down, and
 * tests can pass an SQLite connection instead of MySQL.
 */
final class App
{
    private const MAX_TITLE = 200;
    private const MAX_NOTES = 2000;

    private ?ItemRepository $items = null;
    private Closure $log;

    /**
     * @param Closure(): PDO $connect opens the database connection; may throw
     * @param (Closure(string): void)|null $log defaults to error_log (stderr under php -S)
     */
    public function __construct(
        private readonly Kiln $kiln,
        private readonly Closure $connect,
        ?Closure $log = null,
    ) {
        $this->log = $log ?? static function (string $message): void {
            error_log($message);
        };
    }

    public function handle(Request $request): Response
    {
        try {
            return $this->route($request);
        } catch (Throwable $error) {
            ($this->log)('unhandled error: ' . $error::class . ': ' . $error->getMessage());
            return Response::json(500, ['error' => 'internal server error']);
        }
    }

    private function route(Request $request): Response
    {
        $path = rtrim($request->path, '/') ?: '/';
        $method = $request->method === 'HEAD' ? 'GET' : $request->method;

        if ($path === '/') {
            return $method === 'GET' ? Response::html(HomePage::render($this->kiln)) : self::notAllowed('GET');
        }
        if ($path === '/healthz') {
            return $method === 'GET' ? $this->health() : self::notAllowed('GET');
        }
        if ($path === '/__kiln/version') {
            // Read per request so the answer is always the environment's truth.
            $sha = getenv('KILN_BUILD_SHA');
            return $method === 'GET'
                ? Response::text(200, is_string($sha) && $sha !== '' ? $sha : 'dev')
                : self::notAllowed('GET');
        }
        if ($path === '/api/items') {
            return match ($method) {
                'GET' => $this->withItems(fn (ItemRepository $items) => Response::json(200, ['items' => $items->all()])),
                'POST' => $this->create($request),
                default => self::notAllowed('GET, POST'),
            };
        }
        if (preg_match('#^/api/items/([^/]+)$#', $path, $match) === 1) {
            $id = self::id($match[1]);
            if ($id === null) {
                return self::notFound();
            }
            return match ($method) {
                'GET' => $this->withItems(fn (ItemRepository $items) => self::itemOr404($items->find($id))),
                'PATCH' => $this->update($request, $id),
                'DELETE' => $this->withItems(
                    fn (ItemRepository $items) => $items->delete($id) ? new Response(204, '') : self::notFound()
                ),
                default => self::notAllowed('GET, PATCH, DELETE'),
            };
        }
        return Response::json(404, ['error' => 'not found']);
    }

    private function health(): Response
    {
        try {
            $this->repository()->ping();
            return Response::json(200, ['status' => 'ok', 'database' => 'ok']);
        } catch (Throwable $error) {
            // Details go to the log only: driver messages can name hosts and users.
            ($this->log)('health check: database unavailable: ' . $error->getMessage());
            return Response::json(503, ['status' => 'unavailable', 'database' => 'unreachable']);
        }
    }

    private function create(Request $request): Response
    {
        [$fields, $errors] = self::itemFields($request, partial: false);
        if ($errors !== null) {
            return $errors;
        }
        return $this->withItems(function (ItemRepository $items) use ($fields) {
            $item = $items->create($fields);
            return Response::json(201, $item, ['Location' => 'items/' . $item['id']]);
        });
    }

    private function update(Request $request, int $id): Response
    {
        [$fields, $errors] = self::itemFields($request, partial: true);
        if ($errors !== null) {
            return $errors;
        }
        return $this->withItems(fn (ItemRepository $items) => self::itemOr404($items->update($id, $fields)));
    }

    /**
     * Runs $action with the repository, answering 503 when the database cannot be reached
     * so clients can tell "down" from "broken".
     * @param Closure(ItemRepository): Response $action
     */
    private function withItems(Closure $action): Response
    {
        try {
            $items = $this->repository();
        } catch (Throwable $error) {
            ($this->log)('database unavailable: ' . $error->getMessage());
            return Response::json(503, ['error' => 'database unavailable']);
        }
        return $action($items);
    }

    private function repository(): ItemRepository
    {
        return $this->items ??= new ItemRepository(($this->connect)());
    }

    /**
     * Decodes and checks an item body. Returns [fields, null] or [null, 400 response].
     * @return array{0: array<string, mixed>|null, 1: Response|null}
     */
    private static function itemFields(Request $request, bool $partial): array
    {
        try {
            $body = json_decode($request->body, true, 16, JSON_THROW_ON_ERROR);
        } catch (JsonException $error) {
            return [null, Response::json(400, ['error' => 'body is not valid JSON: ' . $error->getMessage()])];
        }
        if (!is_array($body) || array_is_list($body) && $body !== []) {
            return [null, self::invalid(['body' => 'expected a JSON object'])];
        }
        $errors = [];
        $fields = [];
        foreach (array_keys($body) as $key) {
            if (!in_array($key, ['title', 'notes', 'done'], true)) {
                $errors[(string) $key] = 'unknown field';
            }
        }
        if (array_key_exists('title', $body) || !$partial) {
            $title = is_string($body['title'] ?? null) ? trim($body['title']) : '';
            if ($title === '') {
                $errors['title'] = 'required, a non-empty string';
            } elseif (self::length($title) > self::MAX_TITLE) {
                $errors['title'] = 'must be at most ' . self::MAX_TITLE . ' characters';
            } else {
                $fields['title'] = $title;
            }
        }
        if (array_key_exists('notes', $body)) {
            if (!is_string($body['notes'])) {
                $errors['notes'] = 'must be a string';
            } elseif (self::length($body['notes']) > self::MAX_NOTES) {
                $errors['notes'] = 'must be at most ' . self::MAX_NOTES . ' characters';
            } else {
                $fields['notes'] = $body['notes'];
            }
        }
        if (array_key_exists('done', $body)) {
            if (!is_bool($body['done'])) {
                $errors['done'] = 'must be true or false';
            } else {
                $fields['done'] = $body['done'];
            }
        }
        if ($partial && $body === []) {
            $errors['body'] = 'give at least one of title, notes, done';
        }
        return $errors === [] ? [$fields, null] : [null, self::invalid($errors)];
    }

    /** Characters, not bytes, matching MySQL's VARCHAR(n) with utf8mb4 (no mbstring needed). */
    private static function length(string $text): int
    {
        return (int) preg_match_all('/./su', $text);
    }

    /** A path id, or null when it cannot name a row (so the database is not asked). */
    private static function id(string $text): ?int
    {
        if (preg_match('/^[1-9][0-9]{0,9}$/', $text) !== 1 || (int) $text > 4294967295) {
            return null;
        }
        return (int) $text;
    }

    private static function itemOr404(?array $item): Response
    {
        return $item === null ? self::notFound() : Response::json(200, $item);
    }

    private static function notFound(): Response
    {
        return Response::json(404, ['error' => 'item not found']);
    }

    private static function invalid(array $errors): Response
    {
        return Response::json(400, ['error' => 'validation failed', 'fields' => $errors]);
    }

    private static function notAllowed(string $allow): Response
    {
        return Response::json(405, ['error' => 'method not allowed'], ['Allow' => $allow]);
    }
}
