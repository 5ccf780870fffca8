// Expo reads this at build time. The app's name comes from kiln.json so the brief stays the
// single source of truth; BASE_PATH makes the web export work under a path prefix such as
// /apps/<name>/ (Expo writes absolute asset URLs, so it must know the prefix).
const kiln = require('./kiln.json');

const basePath = String(process.env.BASE_PATH || '').trim().replace(/\/+$/, '');

module.exports = {
  expo: {
    name: kiln.title || kiln.project,
    slug: kiln.project,
    version: '1.0.0',
    orientation: 'default',
    userInterfaceStyle: 'automatic',
    platforms: ['ios', 'android', 'web'],
    web: {
      bundler: 'metro',
      output: 'single',
    },
    experiments: basePath ? { baseUrl: basePath.startsWith('/') ? basePath : `/${basePath}` } : {},
  },
};
