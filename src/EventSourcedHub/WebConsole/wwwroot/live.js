// The hub's commits as the pages hear of them (fed by app.js from /api/console/events).
const listeners = new Set();

/** Calls listener with each commit while the page is shown; returns the function that stops it. */
export function onCommit(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function announce(change) {
  listeners.forEach(listener => listener(change));
}
