<?php

namespace App\Support;

use RuntimeException;

/**
 * The brief and stories Kiln planned the app from. They are read from kiln.json at runtime
 * so user text never sits in PHP source, and Blade's {{ }} escapes them on the page.
 */
final class KilnBrief
{
    /** @param list<array{title: string, description: string, acceptance: list<string>}> $stories */
    public function __construct(
        public readonly string $project,
        public readonly string $title,
        public readonly string $brief,
        public readonly string $epic,
        public readonly array $stories,
    ) {
    }

    /** Reads kiln.json, tolerating missing or mistyped fields. */
    public static function load(string $file): self
    {
        $text = @file_get_contents($file);
        if ($text === false) {
            throw new RuntimeException("cannot read $file");
        }
        $data = json_decode($text, true, 64, JSON_THROW_ON_ERROR);
        $data = is_array($data) ? $data : [];
        $str = static fn (mixed $value): string => is_string($value) ? $value : '';
        $stories = [];
        foreach (is_array($data['stories'] ?? null) ? $data['stories'] : [] as $story) {
            $story = is_array($story) ? $story : [];
            $acceptance = is_array($story['acceptance'] ?? null) ? $story['acceptance'] : [];
            $stories[] = [
                'title' => $str($story['title'] ?? null),
                'description' => $str($story['description'] ?? null),
                'acceptance' => array_values(array_map($str, $acceptance)),
            ];
        }
        $project = $str($data['project'] ?? null);
        $title = $str($data['title'] ?? null);

        return new self(
            $project,
            $title !== '' ? $title : ($project !== '' ? $project : 'Untitled'),
            $str($data['brief'] ?? null),
            $str($data['epic'] ?? null),
            $stories,
        );
    }
}
