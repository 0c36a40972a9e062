// The console's shell: the token field, the live feed and the pages (#/sessions, #/session/<topic>, #/audit, #/replay).
import { follow, setToken, token } from './api.js';
import { sessionsPage } from './sessions.js';
import { sessionPage } from './session.js';
import { auditPage } from './audit.js';
import { replayPage } from './replay.js';
import { announce } from './live.js';

const live = document.getElementById('live');
const banner = document.getElementById('auth-banner');
let stopFeed = () => {};

function startFeed() {
  stopFeed();
  stopFeed = follow(announce, state => {
    live.className = state.live ? 'live on' : 'live off';
    live.textContent = state.live ? 'live' : state.error ? `no live updates (${state.error.status})` : 'offline';
  });
}

function showTokenState() {
  const state = document.getElementById('token-state');
  const value = token();
  if (!value) {
    state.textContent = 'no token';
    return;
  }
  // What the token says about itself, for the reader (the hub checks it, not the page).
  try {
    const claims = JSON.parse(atob(value.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    const expires = claims.exp ? new Date(claims.exp * 1000).toLocaleTimeString() : '?';
    state.textContent = `${claims.client_id ?? claims.sub ?? 'token'} · ${claims.scope ?? claims.scp ?? 'no scopes'} · until ${expires}`;
  } catch {
    state.textContent = 'token set (not a readable JWT)';
  }
}

document.getElementById('token-form').addEventListener('submit', event => {
  event.preventDefault();
  const field = document.getElementById('token');
  setToken(field.value.trim());
  field.value = '';
});
document.getElementById('token-forget').addEventListener('click', () => setToken(''));

window.addEventListener('token-needed', () => {
  banner.hidden = false;
  banner.textContent = token()
    ? 'The hub refused the token (401). Paste a valid bearer token in the field above.'
    : 'This hub requires a bearer token. Paste one in the field above (it is kept in this browser tab only).';
  document.getElementById('token').focus();
});

window.addEventListener('token-changed', () => {
  banner.hidden = true;
  showTokenState();
  startFeed();
  render();
});

const pages = {
  sessions: sessionsPage,
  session: sessionPage,
  audit: auditPage,
  replay: replayPage,
};

let leave = () => {};

function render() {
  leave();
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [name, ...rest] = path.split('/');
  const page = pages[name] ? name : 'sessions';
  document.querySelectorAll('nav a').forEach(a => a.classList.toggle('current', a.dataset.page === (page === 'session' ? 'sessions' : page)));
  const main = document.getElementById('page');
  main.replaceChildren();
  leave = pages[page](main, { argument: rest.map(decodeURIComponent).join('/'), query: new URLSearchParams(query) }) ?? (() => {});
}

window.addEventListener('hashchange', render);
showTokenState();
startFeed();
render();
