// Audit search: FHIR search of AuditEvent by patient, app, event type, topic and date, page by page, and the whole
// result as a FHIR Bundle to download.
import { call, errorBox, searchAll } from './api.js';
import { el, pretty, time } from './dom.js';

const TOPIC_SYSTEM = 'urn:eventsourcedhub:topic';
const EVENT_TYPES = ['Patient-open', 'Patient-close', 'ImagingStudy-open', 'ImagingStudy-close', 'DiagnosticReport-open', 'DiagnosticReport-update',
  'DiagnosticReport-select', 'DiagnosticReport-close', 'SyncError', 'subscribe', 'confirm', 'renew', 'unsubscribe', 'dropped', 'lease-expired',
  'replay-started', 'rejected-request', 'unauthenticated', 'forbidden'];

/** The search URL of the form's values (without paging). */
function searchUrl(values, count) {
  const parameters = new URLSearchParams();
  if (values.patient) parameters.append('patient', values.patient);
  if (values.app) parameters.append('agent', values.app);
  if (values.type) parameters.append('subtype', values.type);
  if (values.entity) parameters.append('entity', values.entity);
  if (values.from) parameters.append('date', `ge${values.from}`);
  if (values.to) parameters.append('date', `le${values.to}`);
  parameters.append('_count', count);
  return `/fhir/AuditEvent?${parameters}`;
}

export function auditPage(main, { query }) {
  const field = (label, name, attributes = {}) => el('label', {}, label, el('input', { name, value: query.get(name) ?? '', ...attributes }));
  const form = el('form', { class: 'filters', id: 'audit-form' },
    field('Patient', 'patient', { placeholder: 'pat-1 or Patient/pat-1' }),
    field('App', 'app', { placeholder: 'subscriber name or endpoint' }),
    field('Event type', 'type', { list: 'event-types', placeholder: 'e.g. DiagnosticReport-open' }),
    field('Topic', 'entity', { placeholder: 'a topic' }),
    field('From', 'from', { type: 'date' }),
    field('To', 'to', { type: 'date' }),
    el('label', {}, 'Per page', el('select', { name: 'count' }, [...new Set([10, 25, 50, 100, Number(query.get('count') ?? 25)])].sort((a, b) => a - b).map(n => el('option', { value: n, selected: String(n) === (query.get('count') ?? '25') }, n)))),
    el('button', { type: 'submit' }, 'Search'),
    el('datalist', { id: 'event-types' }, EVENT_TYPES.map(t => el('option', { value: t }))));
  const status = el('p', { class: 'muted', id: 'audit-status' }, 'Search the audit store; every field is optional.');
  const pager = el('div', { class: 'pager' });
  const results = el('div', {});
  const details = el('section', { class: 'details' });
  main.append(el('h1', {}, 'Audit search'), form, status, pager, results, details);

  // The pages seen so far, so that "Previous" goes back through the hub's keyset links.
  let pages = [];
  const values = Object.fromEntries(['patient', 'app', 'type', 'entity', 'from', 'to'].map(n => [n, query.get(n) ?? '']));

  form.addEventListener('submit', event => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    location.hash = `#/audit?${new URLSearchParams(Object.entries(data).filter(([, v]) => v))}`;
  });

  async function show(url) {
    status.textContent = 'Searching…';
    try {
      const bundle = await call(url);
      const entries = bundle.entry ?? [];
      const next = (bundle.link ?? []).find(l => l.relation === 'next')?.url;
      status.textContent = `Page ${pages.length}: ${entries.length} AuditEvent${entries.length === 1 ? '' : 's'}, newest first.`;
      pager.replaceChildren(
        el('button', { type: 'button', disabled: pages.length < 2, onclick: () => { pages.pop(); show(pages[pages.length - 1]); } }, '← Previous'),
        el('button', { type: 'button', disabled: !next, onclick: () => { pages.push(next); show(next); } }, 'Next →'),
        el('button', { type: 'button', id: 'export', onclick: exportBundle }, 'Download all results as a FHIR Bundle'));
      results.replaceChildren(table(entries));
    } catch (error) {
      status.replaceChildren(errorBox(error));
      pager.replaceChildren();
      results.replaceChildren();
    }
  }

  function table(entries) {
    if (!entries.length) return el('p', { class: 'muted' }, 'No AuditEvent matches.');
    return el('table', { class: 'audit' },
      el('thead', {}, el('tr', {}, ['Recorded', 'Event', 'Outcome', 'App', 'Topic', 'Patient'].map(h => el('th', {}, h)))),
      el('tbody', {}, entries.map(({ resource: a }) => {
        const topic = (a.entity ?? []).find(e => e.what?.identifier?.system === TOPIC_SYSTEM)?.what.identifier.value;
        const patients = (a.entity ?? []).filter(e => e.what?.reference?.startsWith('Patient/')).map(e => e.what.reference);
        return el('tr', { 'data-id': a.id, onclick: () => details.replaceChildren(el('h2', {}, `AuditEvent ${a.id}`), el('pre', { class: 'json' }, pretty(a))) },
          el('td', {}, time(a.recorded, { milliseconds: true })),
          el('td', {}, a.subtype?.[0]?.code ?? a.type?.code),
          el('td', { class: a.outcome === '0' ? '' : 'bad' }, a.outcome === '0' ? 'success' : `failure (${a.outcome})`),
          el('td', {}, a.agent?.[0]?.name ?? '—'),
          el('td', {}, topic ? el('a', { href: `#/session/${encodeURIComponent(topic)}`, onclick: e => e.stopPropagation() }, topic) : '—'),
          el('td', {}, patients.join(', ') || '—'));
      })));
  }

  async function exportBundle() {
    const button = document.getElementById('export');
    button.disabled = true;
    button.textContent = 'Collecting…';
    try {
      const url = searchUrl(values, 1000);
      const entries = await searchAll(url);
      const bundle = {
        resourceType: 'Bundle',
        type: 'searchset',
        timestamp: new Date().toISOString(),
        total: entries.length,
        link: [{ relation: 'self', url: new URL(url, location.href).href }],
        entry: entries,
      };
      const href = URL.createObjectURL(new Blob([JSON.stringify(bundle, null, 2)], { type: 'application/fhir+json' }));
      const link = el('a', {
        href,
        download: `audit-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
      });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(href), 60000);
      button.textContent = `Downloaded ${entries.length} AuditEvents`;
    } catch (error) {
      button.replaceWith(errorBox(error));
    } finally {
      button.disabled = false;
    }
  }

  if (Object.values(values).some(Boolean) || query.has('count')) {
    const first = searchUrl(values, query.get('count') ?? '25');
    pages = [first];
    show(first);
  }
}
