<?php

declare(strict_types=1);

// The real entry point under PHP's built-in server, started the way Kiln runs it, on a
// random loopback port. No database server is available in tests, so DATABASE_URL points
// at a closed port and health must say so.

/** Starts `php -S` with public/index.php as router; returns [base URL, stop function, log file]. */
function start_server(array $env): array
{
    $probe = stream_socket_server('tcp://127.0.0.1:0');
    $port = (int) substr((string) strrchr(stream_socket_get_name($probe, false), ':'), 1);
    fclose($probe);

    $log = tempnam(sys_get_temp_dir(), 'php-server-');
    $process = proc_open(
        [PHP_BINARY, '-S', "127.0.0.1:$port", '-t', 'public', 'public/index.php'],
        [0 => ['file', '/dev/null', 'r'], 1 => ['file', $log, 'a'], 2 => ['file', $log, 'a']],
        $pipes,
        ROOT,
        $env + ['PATH' => (string) getenv('PATH')],
    );
    if (!is_resource($process)) {
        fail('could not start php -S');
    }
    $stop = static function () use ($process, $log): void {
        proc_terminate($process);
        proc_close($process);
        @unlink($log);
    };
    // Wait until it accepts connections (it normally takes a few milliseconds).
    for ($i = 0; $i < 200; $i++) {
        $socket = @fsockopen('127.0.0.1', $port, $errno, $errstr, 0.1);
        if ($socket !== false) {
            fclose($socket);
            return ["http://127.0.0.1:$port", $stop, $log];
        }
        usleep(50_000);
    }
    $stop();
    fail("php -S did not start listening on port $port");
}

/** GET $url; returns [status, content type, body]. */
function http_get(string $url): array
{
    $context = stream_context_create(['http' => ['ignore_errors' => true, 'timeout' => 15]]);
    $body = file_get_contents($url, false, $context);
    $headers = $http_response_header ?? [];
    preg_match('#^HTTP/\S+ (\d{3})#', $headers[0] ?? '', $status);
    $type = '';
    foreach ($headers as $header) {
        if (stripos($header, 'content-type:') === 0) {
            $type = trim(substr($header, 13));
        }
    }
    return [(int) ($status[1] ?? 0), $type, (string) $body];
}

test('php -S serves the page, stylesheet, build stamp and an honest health check', function (): void {
    $closed = stream_socket_server('tcp://127.0.0.1:0');
    $dbPort = (int) substr((string) strrchr(stream_socket_get_name($closed, false), ':'), 1);
    fclose($closed);

    [$base, $stop, $log] = start_server([
        'KILN_BUILD_SHA' => 'sha-from-env',
        'DATABASE_URL' => "mysql://app:hunter2@127.0.0.1:$dbPort/app",
    ]);
    try {
        $kiln = kiln_data();
        [$status, $type, $html] = http_get("$base/");
        assert_same(200, $status, 'GET /');
        assert_true(str_starts_with($type, 'text/html'), "content type $type");
        assert_contains(e($kiln['project']), $html);
        foreach ($kiln['stories'] as $story) {
            assert_contains('<h3>' . e($story['title']) . '</h3>', $html);
        }

        [$status, $type] = http_get("$base/styles.css");
        assert_same(200, $status, 'GET /styles.css');
        assert_true(str_starts_with($type, 'text/css'), "stylesheet content type $type");

        assert_same([200, 'text/plain; charset=utf-8', 'sha-from-env'], http_get("$base/__kiln/version"));

        [$status, , $body] = http_get("$base/healthz");
        assert_same(503, $status, 'health with the database down');
        assert_same(['status' => 'unavailable', 'database' => 'unreachable'], json_decode($body, true));
        [$status] = http_get("$base/api/items");
        assert_same(503, $status, 'API with the database down');

        [$status] = http_get("$base/index.php");
        assert_same(404, $status, 'the router script is not reachable by name');
    } finally {
        $output = (string) file_get_contents($log);
        $stop();
    }
    assert_contains('health check: database unavailable', $output, 'the failure is logged');
    assert_not_contains('hunter2', $output, 'password leaked into the server log');
});
