<?php

declare(strict_types=1);

namespace App;

/**
 * The server-rendered home page. Every value is printed through e(), because the brief and
 * stories are user text; links and assets are relative so the page works under BASE_PATH.
 */
final class HomePage
{
    public static function e(string $text): string
    {
        return htmlspecialchars($text, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
    }

    public static function render(Kiln $kiln): string
    {
        $e = self::e(...);
        ob_start();
        ?>
<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="kiln-project" content="<?= $e($kiln->project) ?>">
  <title><?= $e($kiln->title) ?></title>
  <link rel="stylesheet" href="styles.css">
</head>
<body>
  <header class="hero">
    <div class="wrap">
      <p class="eyebrow"><a href="./"><?= $e($kiln->epic !== '' ? $kiln->epic : $kiln->project) ?></a></p>
      <h1><?= $e($kiln->title) ?></h1>
      <p class="brief"><?= $e($kiln->brief) ?></p>
    </div>
  </header>
  <main class="wrap">
    <h2 class="stories-heading">What this app covers</h2>
<?php if ($kiln->stories === []) : ?>
    <p class="empty">No stories yet.</p>
<?php else : ?>
    <div class="stories">
<?php foreach ($kiln->stories as $index => $story) : ?>
      <section class="story" id="story-<?= $index + 1 ?>">
        <h3><?= $e($story['title']) ?></h3>
<?php if ($story['description'] !== '') : ?>
        <p><?= $e($story['description']) ?></p>
<?php endif; ?>
<?php if ($story['acceptance'] !== []) : ?>
        <h4>Acceptance criteria</h4>
        <ul class="acceptance">
<?php foreach ($story['acceptance'] as $criterion) : ?>
          <li><?= $e($criterion) ?></li>
<?php endforeach; ?>
        </ul>
<?php endif; ?>
      </section>
<?php endforeach; ?>
    </div>
<?php endif; ?>
    <h2>API</h2>
    <ul class="api">
      <li><code>GET api/items</code>, <code>POST api/items</code> with <code>{"title", "notes"?, "done"?}</code></li>
      <li><code>GET</code>, <code>PATCH</code>, <code>DELETE api/items/{id}</code></li>
      <li><code>GET healthz</code> checks the database; <code>GET __kiln/version</code> shows the build</li>
    </ul>
  </main>
  <footer class="wrap">
    <p>Built by Kiln &middot; <span class="project"><?= $e($kiln->project) ?></span></p>
  </footer>
</body>
</html>
<?php
        return (string) ob_get_clean();
    }
}
