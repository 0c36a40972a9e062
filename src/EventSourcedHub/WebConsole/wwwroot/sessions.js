// Sessions: every topic with its start, last event, open report, subscribers and SyncErrors; filters; live updates.
import { call, errorBox, searchAll } from './api.js';
import { onCommit } from './live.js';
import { el, isoOf, time } from './dom.js';

const TOPIC_SYSTEM = 'urn:eventsourcedhub:topic';

/** The topics named by AuditEvents that match a FHIR search (by patient, by app). */
async function topicsOf(parameters) {
  const entries = await searchAll(`/fhir/AuditEvent?${parameters}&_count=1000`);
  return new Set(entries.flatMap(e => (e.resource.entity ?? [])
    .filter(x => x.what?.identifier?.system === TOPIC_SYSTEM).map(x => x.what.identifier.value)));
}

export function sessionsPage(main, { query }) {
  const filters = el('form', { class: 'filters' },
    el('label', {}, 'Patient', el('input', { name: 'patient', placeholder: 'pat-1 or Patient/pat-1', value: query.get('patient') ?? '' })),
    el('label', {}, 'App', el('input', { name: 'app', placeholder: 'subscriber name', value: query.get('app') ?? '' })),
    el('label', {}, 'From', el('input', { name: 'from', type: 'datetime-local', step: 1, value: query.get('from') ?? '' })),
    el('label', {}, 'To', el('input', { name: 'to', type: 'datetime-local', step: 1, value: query.get('to') ?? '' })),
    el('button', { type: 'submit' }, 'Filter'),
    el('button', { type: 'button', onclick: () => { location.hash = '#/sessions'; } }, 'Clear'));
  filters.addEventListener('submit', event => {
    event.preventDefault();
    const chosen = new URLSearchParams([...new FormData(filters)].filter(([, v]) => v));
    location.hash = `#/sessions?${chosen}`;
  });

  const status = el('p', { class: 'muted' }, 'Loading…');
  const table = el('table', { class: 'sessions' });
  main.append(el('h1', {}, 'Sessions'), filters, status, table);

  // Commits seen live, by topic: the summaries are projected a moment after the commit, so read again until they show it.
  const expected = new Map();
  const changed = new Set();
  let timer = 0;
  let tries = 0;

  async function load() {
    try {
      const range = new URLSearchParams();
      if (query.get('from')) range.set('from', isoOf(query.get('from')));
      if (query.get('to')) range.set('to', isoOf(query.get('to')));
      let summaries = await call(`/api/sessions?${range}`);
      const searches = [];
      if (query.get('patient')) searches.push(topicsOf(`patient=${encodeURIComponent(query.get('patient'))}`));
      if (query.get('app')) searches.push(topicsOf(`agent=${encodeURIComponent(query.get('app'))}`));
      for (const topics of await Promise.all(searches)) summaries = summaries.filter(s => topics.has(s.id));
      show(summaries);
      const behind = [...expected].some(([topic, version]) => (summaries.find(s => s.id === topic)?.events ?? 0) < version);
      if (behind && tries++ < 20) schedule(500);
      else { expected.clear(); tries = 0; }
    } catch (error) {
      status.replaceChildren(errorBox(error));
      table.replaceChildren();
    }
  }

  function show(summaries) {
    const newestFirst = [...summaries].sort((a, b) => (b.end ?? '').localeCompare(a.end ?? ''));
    status.textContent = `${summaries.length} session${summaries.length === 1 ? '' : 's'}, last event first. Counts follow the log within a moment.`;
    table.replaceChildren(
      el('thead', {}, el('tr', {}, ['Topic', 'Start', 'Last event', 'Events', 'Open report', 'Subscribers', 'SyncErrors'].map(h => el('th', {}, h)))),
      el('tbody', {}, newestFirst.map(row)));
  }

  function row(s) {
    const open = (s.reports ?? []).filter(r => !r.closed);
    return el('tr', { 'data-topic': s.id, class: changed.has(s.id) ? 'changed' : null, onclick: () => { location.hash = `#/session/${encodeURIComponent(s.id)}`; } },
      el('td', {}, el('a', { href: `#/session/${encodeURIComponent(s.id)}` }, s.id)),
      el('td', {}, time(s.start)),
      el('td', {}, time(s.end)),
      el('td', { class: 'number' }, s.events),
      el('td', {}, open.length ? open.map(r => el('span', { class: 'badge open' }, r.reportId))
        : el('span', { class: 'muted' }, s.reports?.length ? `none (${s.reports.length} closed)` : '—')),
      el('td', { class: 'number' }, s.subscribers),
      el('td', { class: `number${s.syncErrors ? ' bad' : ''}` }, s.syncErrors));
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(load, delay);
  }

  const stopListening = onCommit(change => {
    if (change.topic) {
      expected.set(change.topic, Math.max(expected.get(change.topic) ?? 0, change.version));
      changed.add(change.topic);
    }
    tries = 0;
    schedule(250);
  });
  load();
  return () => { stopListening(); clearTimeout(timer); };
}
