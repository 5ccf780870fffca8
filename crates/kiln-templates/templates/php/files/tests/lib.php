<?php

declare(strict_types=1);

// A deliberately tiny test harness (Composer and PHPUnit are not available offline):
// test() registers a case, assert_*() count and check, run_tests() reports TAP-style lines
// and returns the process exit code. A case that asserts nothing fails.

final class AssertionFailed extends Exception
{
}

/** @var list<array{string, string, callable}> */
$GLOBALS['kiln_tests'] = [];
$GLOBALS['kiln_assertions'] = 0;

function test(string $name, callable $body): void
{
    $GLOBALS['kiln_tests'][] = [basename(debug_backtrace()[0]['file'] ?? '?'), $name, $body];
}

function fail(string $message): never
{
    throw new AssertionFailed($message);
}

function assert_true(bool $condition, string $message): void
{
    $GLOBALS['kiln_assertions']++;
    if (!$condition) {
        fail($message);
    }
}

function assert_same(mixed $expected, mixed $actual, string $message = ''): void
{
    $GLOBALS['kiln_assertions']++;
    if ($expected !== $actual) {
        fail(($message !== '' ? "$message: " : '') . 'expected ' . var_export($expected, true)
            . ', got ' . var_export($actual, true));
    }
}

function assert_contains(string $needle, string $haystack, string $message = ''): void
{
    $GLOBALS['kiln_assertions']++;
    if (!str_contains($haystack, $needle)) {
        fail(($message !== '' ? "$message: " : '') . 'missing ' . var_export($needle, true));
    }
}

function assert_not_contains(string $needle, string $haystack, string $message = ''): void
{
    $GLOBALS['kiln_assertions']++;
    if (str_contains($haystack, $needle)) {
        fail(($message !== '' ? "$message: " : '') . 'unexpected ' . var_export($needle, true));
    }
}

/** Runs $body, expecting a $class exception whose message matches $pattern; returns it. */
function assert_throws(string $class, callable $body, string $pattern = '/./'): Throwable
{
    $GLOBALS['kiln_assertions']++;
    try {
        $body();
    } catch (Throwable $error) {
        if (!$error instanceof $class) {
            fail("expected $class, got " . $error::class . ': ' . $error->getMessage());
        }
        if (preg_match($pattern, $error->getMessage()) !== 1) {
            fail("message {$error->getMessage()} does not match $pattern");
        }
        return $error;
    }
    fail("expected $class, nothing was thrown");
}

function run_tests(): int
{
    $failed = 0;
    $number = 0;
    foreach ($GLOBALS['kiln_tests'] as [$file, $name, $body]) {
        $number++;
        $before = $GLOBALS['kiln_assertions'];
        try {
            $body();
            if ($GLOBALS['kiln_assertions'] === $before) {
                fail('the test asserted nothing');
            }
            echo "ok $number - $file: $name\n";
        } catch (Throwable $error) {
            $failed++;
            echo "not ok $number - $file: $name\n";
            $where = $error instanceof AssertionFailed
                ? self_location($error)
                : $error::class . ' at ' . $error->getFile() . ':' . $error->getLine();
            echo '  # ' . str_replace("\n", "\n  # ", $error->getMessage()) . "\n  # ($where)\n";
        }
    }
    echo "1..$number\n# pass " . ($number - $failed) . "\n# fail $failed\n";
    if ($number === 0) {
        echo "# no tests found\n";
        return 1;
    }
    return $failed === 0 ? 0 : 1;
}

/** The test-file line that raised an assertion, skipping this harness' frames. */
function self_location(Throwable $error): string
{
    foreach ($error->getTrace() as $frame) {
        if (isset($frame['file']) && $frame['file'] !== __FILE__) {
            return basename($frame['file']) . ':' . $frame['line'];
        }
    }
    return basename($error->getFile()) . ':' . $error->getLine();
}
