import { useState } from 'react';

/** True when the story's title, description or a criterion contains `query` (any case). */
export function matchesStory(story, query) {
  const needle = query.trim().toLowerCase();
  if (needle === '') return true;
  return [story.title, story.description, ...story.acceptance].some((text) =>
    text.toLowerCase().includes(needle),
  );
}

function Story({ story, index }) {
  return (
    <section className="story" id={`story-${index + 1}`}>
      <h3>{story.title}</h3>
      {story.description && <p>{story.description}</p>}
      {story.acceptance.length > 0 && (
        <>
          <h4>Acceptance criteria</h4>
          <ul className="acceptance">
            {story.acceptance.map((criterion, i) => (
              <li key={i}>{criterion}</li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

/**
 * The whole page. `kiln` is passed in rather than imported so tests and the build-time
 * prerender can render any brief.
 */
export default function App({ kiln }) {
  const [query, setQuery] = useState('');
  const shown = kiln.stories
    .map((story, index) => ({ story, index }))
    .filter(({ story }) => matchesStory(story, query));

  return (
    <>
      <header className="hero">
        <div className="wrap">
          <p className="eyebrow">{kiln.epic || kiln.project}</p>
          <h1>{kiln.title}</h1>
          <p className="brief">{kiln.brief}</p>
        </div>
      </header>
      <main className="wrap">
        <h2 className="stories-heading">What this app covers</h2>
        {kiln.stories.length === 0 ? (
          <p className="empty">No stories yet.</p>
        ) : (
          <>
            <label className="filter">
              Filter stories{' '}
              <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} />
            </label>
            {shown.length === 0 ? (
              <p className="empty">No story matches “{query}”.</p>
            ) : (
              <div className="stories">
                {shown.map(({ story, index }) => (
                  <Story key={index} story={story} index={index} />
                ))}
              </div>
            )}
          </>
        )}
      </main>
      <footer className="wrap">
        <p>
          Built by Kiln &middot; <span className="project">{kiln.project}</span>
        </p>
      </footer>
    </>
  );
}
