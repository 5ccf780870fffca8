import { loadKiln } from '../lib/kiln.js';

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

/** The home page, rendered on the server from kiln.json (React escapes all user text). */
export default function Home() {
  const kiln = loadKiln();
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
          <div className="stories">
            {kiln.stories.map((story, index) => (
              <Story key={index} story={story} index={index} />
            ))}
          </div>
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
