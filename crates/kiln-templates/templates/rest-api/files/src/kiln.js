'use strict';
// kiln.json holds the brief and stories Kiln planned the app from. Reading it at runtime
// keeps user text out of source files, where it could not be escaped safely.

const fs = require('node:fs');

/** Reads kiln.json, tolerating missing fields. */
function loadKiln(file) {
  const data = JSON.parse(fs.readFileSync(file, 'utf8'));
  const text = (value) => (typeof value === 'string' ? value : '');
  const stories = Array.isArray(data.stories) ? data.stories : [];
  return {
    project: text(data.project),
    title: text(data.title) || text(data.project) || 'Untitled',
    brief: text(data.brief),
    epic: text(data.epic),
    stories: stories.map((story) => ({
      title: text(story && story.title),
      description: text(story && story.description),
      acceptance: Array.isArray(story && story.acceptance) ? story.acceptance.map(text) : [],
    })),
  };
}

module.exports = { loadKiln };
