import './globals.css';
import { loadKiln } from '../lib/kiln.js';

export function generateMetadata() {
  const kiln = loadKiln();
  return {
    title: kiln.title,
    description: kiln.brief,
    other: { 'kiln-project': kiln.project },
  };
}

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
