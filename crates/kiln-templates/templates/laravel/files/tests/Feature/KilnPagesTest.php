<?php

namespace Tests\Feature;

use Tests\TestCase;

/**
 * The pages Kiln checks after a deploy, against kiln.json itself so the tests follow the
 * brief instead of hard-coding it. The database is in-memory SQLite (phpunit.xml).
 */
class KilnPagesTest extends TestCase
{
    private function kiln(): array
    {
        return json_decode(file_get_contents(base_path('kiln.json')), true, 64, JSON_THROW_ON_ERROR);
    }

    public function test_home_shows_project_title_brief_and_stories_escaped(): void
    {
        $kiln = $this->kiln();
        $response = $this->get('/');

        $response->assertOk();
        $html = $response->getContent();
        $this->assertStringContainsString('<title>'.e($kiln['title']).'</title>', $html);
        $this->assertStringContainsString('<h1>'.e($kiln['title']).'</h1>', $html);
        $this->assertStringContainsString('>'.e($kiln['project']).'<', $html);
        $this->assertStringContainsString(e($kiln['brief']), $html);
        foreach ($kiln['stories'] as $story) {
            $this->assertStringContainsString('<h3>'.e($story['title']).'</h3>', $html);
            foreach ($story['acceptance'] as $criterion) {
                $this->assertStringContainsString('<li>'.e($criterion).'</li>', $html);
            }
        }
    }

    public function test_home_never_prints_user_text_raw(): void
    {
        config(['kiln.brief_file' => base_path('tests/fixtures/hostile-kiln.json')]);

        $html = $this->get('/')->assertOk()->getContent();

        $this->assertStringNotContainsString('<script>', $html);
        $this->assertStringContainsString('&lt;img src=x onerror=alert(1)&gt;', $html);
        $this->assertDoesNotMatchRegularExpression('#(href|src)="/(?!/)#', $html, 'root-absolute URL on the page');
    }

    public function test_healthz_is_ok_when_the_database_answers(): void
    {
        $this->get('/healthz')->assertOk()->assertExactJson(['status' => 'ok', 'database' => 'ok']);
    }

    public function test_healthz_is_503_when_the_database_is_unreachable(): void
    {
        $server = stream_socket_server('tcp://127.0.0.1:0');
        $port = (int) substr((string) strrchr(stream_socket_get_name($server, false), ':'), 1);
        fclose($server);
        config([
            'database.default' => 'mysql',
            'database.connections.mysql.url' => "mysql://app:hunter2@127.0.0.1:$port/app",
        ]);

        $response = $this->get('/healthz');

        $response->assertStatus(503)->assertExactJson(['status' => 'unavailable', 'database' => 'unreachable']);
        $this->assertStringNotContainsString('hunter2', $response->getContent());
    }

    public function test_version_serves_the_build_stamp_as_plain_text(): void
    {
        config(['kiln.build_sha' => 'abc123def']);

        $response = $this->get('/__kiln/version');

        $response->assertOk();
        $this->assertSame('abc123def', $response->getContent());
        $this->assertStringStartsWith('text/plain', $response->headers->get('Content-Type'));
    }
}
