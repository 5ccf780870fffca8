{{-- Print kiln.json values only with {{ }}, never {!! !!}: the brief and stories are user text. --}}
<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="kiln-project" content="{{ $kiln->project }}">
  <title>{{ $kiln->title }}</title>
  {{-- Relative, so the page works behind the BASE_PATH prefix the proxy strips. --}}
  <link rel="stylesheet" href="styles.css">
</head>
<body>
  <header class="hero">
    <div class="wrap">
      <p class="eyebrow"><a href="./">{{ $kiln->epic !== '' ? $kiln->epic : $kiln->project }}</a></p>
      <h1>{{ $kiln->title }}</h1>
      <p class="brief">{{ $kiln->brief }}</p>
    </div>
  </header>
  <main class="wrap">
    <h2 class="stories-heading">What this app covers</h2>
    @forelse ($kiln->stories as $story)
      <section class="story" id="story-{{ $loop->iteration }}">
        <h3>{{ $story['title'] }}</h3>
        @if ($story['description'] !== '')
          <p>{{ $story['description'] }}</p>
        @endif
        @if ($story['acceptance'] !== [])
          <h4>Acceptance criteria</h4>
          <ul class="acceptance">
            @foreach ($story['acceptance'] as $criterion)
              <li>{{ $criterion }}</li>
            @endforeach
          </ul>
        @endif
      </section>
    @empty
      <p class="empty">No stories yet.</p>
    @endforelse
  </main>
  <footer class="wrap">
    <p>Built by Kiln &middot; <span class="project">{{ $kiln->project }}</span></p>
  </footer>
</body>
</html>
