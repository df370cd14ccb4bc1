"""Real-browser tests of the dashboard (headless Debian Chromium via Playwright)."""
