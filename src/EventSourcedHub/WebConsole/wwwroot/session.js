// One session: the hash chain's verdict, the timeline, what a mark was, and the context as of any version.
import { call, errorBox, topicPath } from './api.js';
import { onCommit } from './live.js';
import { el, pretty, time } from './dom.js';
import { drawTimeline, legend } from './timeline.js';

export function sessionPage(main, { argument: topic }) {
  const verdict = el('div', { class: 'verify' }, 'Verifying the hash chain…');
  const picture = el('div', { class: 'picture' }, el('p', { class: 'muted' }, 'Loading the timeline…'));
  const slider = el('input', { type: 'range', id: 'as-of', min: 1, max: 1, value: 1, disabled: true, 'aria-label': 'Context as of version' });
  const sliderLabel = el('span', { class: 'as-of-label' });
  const context = el('div', { class: 'context', id: 'context-as-of' });
  const others = el('section', { class: 'others' });
  const details = el('section', { class: 'details', id: 'details' },
    el('p', { class: 'muted' }, 'Click a mark in the timeline to see its notification and its AuditEvent.'));

  main.append(
    el('div', { class: 'title-row' },
      el('h1', {}, 'Session ', el('code', {}, topic)),
      el('a', { class: 'button', href: `#/replay?source=${encodeURIComponent(topic)}` }, 'Replay this session'),
      el('a', { class: 'button', href: `#/audit?entity=${encodeURIComponent(topic)}` }, 'Its AuditEvents')),
    verdict,
    picture,
    legend(),
    el('section', { class: 'as-of' },
      el('h2', {}, 'Context as of'),
      el('div', { class: 'slider-row' }, slider, sliderLabel),
      context),
    others,
    details);

  let entries = [];
  let timeline = null;
  let notifications = null;
  let contextRequest = 0;
  let contextTimer = 0;
  let reloadTimer = 0;

  async function load() {
    const [timelineResult, verifyResult] = await Promise.allSettled([call(`${topicPath(topic)}/timeline`), call(`${topicPath(topic)}/verify`)]);
    showVerdict(verifyResult);
    if (timelineResult.status === 'rejected') {
      picture.replaceChildren(errorBox(timelineResult.reason));
      return;
    }
    const atEnd = Number(slider.value) === Number(slider.max) || slider.disabled;
    // Reads and refused requests about the topic are in the timeline too, without a stream version: listed apart.
    entries = timelineResult.value.events.filter(e => e.version !== undefined);
    showOthers(timelineResult.value.events.filter(e => e.version === undefined));
    notifications = null;
    timeline = drawTimeline(entries, pick);
    picture.replaceChildren(timeline.element);
    if (entries.length === 0) return;
    slider.min = entries[0].version;
    slider.max = entries[entries.length - 1].version;
    slider.disabled = false;
    if (atEnd) slider.value = slider.max;
    asOf(Number(slider.value));
  }

  function showOthers(list) {
    others.replaceChildren(el('details', {},
      el('summary', {}, `Reads and refused requests about this session (${list.length})`),
      list.length ? el('table', { class: 'audit', id: 'others' },
        el('thead', {}, el('tr', {}, ['Recorded', 'Kind', 'What', 'Agent', 'Outcome', 'Description'].map(h => el('th', {}, h)))),
        el('tbody', {}, list.map(e => el('tr', { onclick: () => showAuditEvent(e) },
          el('td', {}, time(e.recorded, { milliseconds: true })),
          el('td', {}, e.type),
          el('td', {}, e.subtype),
          el('td', {}, e.agent),
          el('td', { class: e.outcome === '0' ? '' : 'bad' }, e.outcome === '0' ? 'success' : `failure (${e.outcome})`),
          el('td', {}, e.description ?? ''))))) : el('p', { class: 'muted' }, 'None.')));
  }

  async function showAuditEvent(entry) {
    const audit = el('div', {}, 'Loading…');
    details.replaceChildren(el('h2', {}, `${entry.type} · ${entry.subtype}`), el('div', { class: 'block' }, el('h3', {}, 'AuditEvent'), audit));
    await showAuditEventIn(audit, entry.auditEvent);
  }

  async function showAuditEventIn(container, id) {
    try {
      container.replaceChildren(el('pre', { class: 'json', id: 'audit-json' }, pretty(await call(`/fhir/AuditEvent/${encodeURIComponent(id)}`))));
    } catch (error) {
      container.replaceChildren(errorBox(error));
    }
  }

  function showVerdict(result) {
    if (result.status === 'rejected') {
      verdict.replaceChildren(el('strong', {}, 'Hash chain: '), errorBox(result.reason));
      verdict.className = 'verify';
      return;
    }
    const v = result.value;
    verdict.className = v.valid ? 'verify valid' : 'verify broken';
    verdict.replaceChildren(v.valid
      ? `Hash chain verified: ${v.events} events, head ${v.head.slice(0, 16)}…`
      : `Hash chain broken at version ${v.firstBrokenVersion} of ${v.events}: ${v.reason}`);
  }

  slider.addEventListener('input', () => {
    clearTimeout(contextTimer);
    contextTimer = setTimeout(() => asOf(Number(slider.value)), 120);
  });

  async function asOf(version) {
    const entry = entries.find(e => e.version === version);
    sliderLabel.textContent = `version ${version} of ${slider.max}${entry ? ` · ${time(entry.recorded, { milliseconds: true })} · ${entry.event ?? entry.step ?? entry.type}` : ''}`;
    timeline?.showVersion(version);
    const request = ++contextRequest;
    try {
      const body = await call(`${topicPath(topic)}/context?version=${version}`);
      if (request === contextRequest) context.replaceChildren(...renderContext(body, version));
    } catch (error) {
      if (request === contextRequest) context.replaceChildren(errorBox(error));
    }
  }

  async function pick({ entry, delivery, mark }) {
    document.querySelectorAll('.mark.picked').forEach(m => m.classList.remove('picked'));
    mark.classList.add('picked');
    slider.value = entry.version;
    asOf(entry.version);
    const notification = el('div', {}, entry.id ? 'Loading…' : el('p', { class: 'muted' }, 'A subscription step: no notification.'));
    const audit = el('div', {}, 'Loading…');
    details.replaceChildren(...[
      el('h2', {}, `v${entry.version} · ${entry.event ?? entry.step ?? entry.type}${delivery ? ` · delivery to ${delivery.subscriber}` : ''}`),
      el('p', {}, `Recorded ${time(entry.recorded, { milliseconds: true })} · agent ${entry.agent} · outcome ${entry.outcome}`),
      delivery ? el('div', { class: 'block' }, el('h3', {}, 'Delivery and ack'), el('pre', { class: 'json', id: 'delivery-json' }, pretty(delivery))) : null,
      el('div', { class: 'pair' },
        el('div', { class: 'block' }, el('h3', {}, 'Notification'), notification),
        el('div', { class: 'block' }, el('h3', {}, 'AuditEvent'), audit)),
    ].filter(Boolean));
    if (entry.id) {
      try {
        notifications ??= call(`${topicPath(topic)}/events?afterVersion=0`);
        const found = (await notifications).find(n => n.version === entry.version);
        notification.replaceChildren(found ? el('pre', { class: 'json', id: 'notification-json' }, pretty(found.notification)) : 'Not found.');
      } catch (error) {
        notifications = null;
        notification.replaceChildren(errorBox(error));
      }
    }
    await showAuditEventIn(audit, entry.auditEvent);
  }

  const stopListening = onCommit(change => {
    if (change.topic !== null && change.topic !== topic) return;
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(load, 300);
  });
  load();
  return () => { stopListening(); clearTimeout(reloadTimer); clearTimeout(contextTimer); };
}

/** Get-current-context as a reader wants it: the type, the anchor, the patient, the other keys and the shared content. */
function renderContext(body, version) {
  const entries = body.context ?? [];
  if (!body['context.type']) return [el('p', { class: 'muted' }, `Nothing open at version ${version}.`)];
  const reference = item => item.resource
    ? `${item.resource.resourceType}/${item.resource.id}`
    : item.reference?.reference ?? '?';
  const patient = entries.find(e => e.key === 'patient');
  const content = entries.find(e => e.key === 'content')?.resource?.entry ?? [];
  const others = entries.filter(e => e.key !== 'patient' && e.key !== 'content');
  return [
    el('dl', { class: 'facts' },
      el('dt', {}, 'Context type'), el('dd', { id: 'context-type' }, body['context.type']),
      el('dt', {}, 'Patient'), el('dd', { id: 'context-patient' }, patient ? reference(patient) : '—'),
      others.flatMap(e => [el('dt', {}, e.key), el('dd', {}, reference(e))]),
      el('dt', {}, 'context.versionId'), el('dd', {}, el('code', {}, body['context.versionId'] ?? '—')),
      el('dt', {}, 'Content'), el('dd', { id: 'context-content' }, content.length
        ? el('ul', {}, content.map(c => el('li', {}, `${c.resource?.resourceType}/${c.resource?.id}`, describe(c.resource))))
        : el('span', { class: 'muted' }, 'no shared content'))),
    el('details', {}, el('summary', {}, 'The context as JSON'), el('pre', { class: 'json' }, pretty(body))),
  ];
}

function describe(resource) {
  const words = [resource?.status, resource?.code?.text ?? resource?.code?.coding?.[0]?.display].filter(Boolean);
  return words.length ? el('span', { class: 'muted' }, ` — ${words.join(', ')}`) : null;
}
