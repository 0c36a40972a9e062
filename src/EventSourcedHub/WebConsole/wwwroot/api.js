// Calls to the hub's read APIs, with the bearer token of this tab when there is one.
import { el } from './dom.js';

const TOKEN_KEY = 'eventsourcedhub-console-token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new CustomEvent('token-changed'));
}

function headers(extra = {}) {
  const result = { Accept: 'application/json, application/fhir+json', ...extra };
  if (token()) result.Authorization = `Bearer ${token()}`;
  return result;
}

/** A refused call: the status and the OperationOutcome's diagnostics. */
export class ApiError extends Error {
  constructor(status, statusText, diagnostics) {
    super(diagnostics || statusText || `HTTP ${status}`);
    this.status = status;
    this.statusText = statusText;
  }
}

const REASONS = { 400: 'Bad request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not found', 409: 'Conflict', 429: 'Too many requests', 503: 'Unavailable' };

async function errorOf(response) {
  let diagnostics = '';
  try {
    const body = await response.json();
    diagnostics = (body.issue ?? []).map(i => i.diagnostics).filter(Boolean).join(' ');
  } catch {
    // Not an OperationOutcome: the status says enough.
  }
  const error = new ApiError(response.status, REASONS[response.status] ?? response.statusText, diagnostics);
  if (response.status === 401) window.dispatchEvent(new CustomEvent('token-needed', { detail: error }));
  return error;
}

/** GET (or another method with a JSON body) and the parsed answer; throws ApiError on 4xx/5xx. */
export async function call(url, { method = 'GET', body } = {}) {
  const response = await fetch(url, {
    method,
    headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

export const topicPath = topic => `/api/sessions/${encodeURIComponent(topic)}`;

/** Every page of a FHIR search, following the `next` links, at most `limit` entries. */
export async function searchAll(url, limit = 10000) {
  const entries = [];
  let next = url;
  while (next && entries.length < limit) {
    const bundle = await call(next);
    entries.push(...(bundle.entry ?? []));
    next = (bundle.link ?? []).find(l => l.relation === 'next')?.url;
  }
  return entries.slice(0, limit);
}

/** A refused call as the page shows it: status, reason and the hub's message, and what to do about a 401. */
export function errorBox(error) {
  if (!(error instanceof ApiError)) return el('div', { class: 'error', role: 'alert' }, el('strong', {}, 'Error'), ' ', String(error?.message ?? error));
  const hint = error.status === 401 ? (token() ? 'The token was refused: paste a valid one above.' : 'This hub needs a bearer token: paste one above.')
    : error.status === 403 ? 'The token may not see this.' : '';
  return el('div', { class: 'error', role: 'alert', 'data-status': error.status },
    el('strong', {}, `${error.status} ${error.statusText}`), ' ', error.message, hint ? el('div', { class: 'hint' }, hint) : null);
}

/**
 * Follows the hub's live feed (`/api/console/events`, server-sent events) with fetch, so that the token goes in a
 * header (EventSource cannot send one). Calls onCommit per commit and onState when the feed goes up or down; a
 * refused feed (401/403) waits for another token, any other break is retried.
 */
export function follow(onCommit, onState) {
  const stop = new AbortController();
  (async () => {
    while (!stop.signal.aborted) {
      try {
        const response = await fetch('/api/console/events', { headers: headers({ Accept: 'text/event-stream' }), signal: stop.signal });
        if (!response.ok) {
          onState({ live: false, error: await errorOf(response) });
          if (response.status === 401 || response.status === 403) return;
        } else {
          onState({ live: true });
          await readEvents(response.body, onCommit);
        }
      } catch {
        if (stop.signal.aborted) return;
      }
      onState({ live: false });
      await new Promise(resolve => setTimeout(resolve, 3000));
    }
  })();
  return () => stop.abort();
}

async function readEvents(body, onCommit) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame.split('\n').filter(line => line.startsWith('data:')).map(line => line.slice(5).trim()).join('\n');
      if (data) onCommit(JSON.parse(data));
    }
  }
}
