// The session's timeline as an SVG picture: one column per stream event (in stream order), one lane per app.
import { clock, el, svg } from './dom.js';

const LABEL = 190;
const COLUMN = 76;
const LANE = 58;
const HEAD = 46;

/** open, update, select, close, syncerror, notification (any other event) or step (a subscription step, a replay start). */
export function kindOf(entry) {
  if (entry.type === 'sync_error_raised' || /^syncerror$/i.test(entry.event ?? '')) return 'syncerror';
  if (!entry.event) return 'step';
  const suffix = entry.event.split('-').pop().toLowerCase();
  return ['open', 'update', 'select', 'close'].includes(suffix) ? suffix : 'notification';
}

function labelOf(entry) {
  const kind = kindOf(entry);
  if (kind === 'syncerror') return 'SyncError';
  if (kind === 'step') return entry.step ?? entry.type;
  if (kind === 'notification') return entry.event;
  return kind;
}

/** The ack of one delivery: ok (2xx), refused (another status), timedout, closed (socket ended first) or none (no ack awaited). */
export function ackOf(delivery) {
  if (delivery.status !== null && delivery.status !== undefined) return delivery.status >= 200 && delivery.status < 300 ? 'ok' : 'refused';
  if (delivery.timedOut) return 'timedout';
  if (delivery.closedBeforeAck) return 'closed';
  return delivery.ackAwaited === false ? 'none' : 'waiting';
}

function shape(kind, x, y) {
  switch (kind) {
    case 'open': return svg('circle', { cx: x, cy: y, r: 9, class: 'shape' });
    case 'close': return svg('circle', { cx: x, cy: y, r: 8, class: 'shape' });
    case 'update': return svg('rect', { x: x - 8, y: y - 8, width: 16, height: 16, rx: 3, class: 'shape' });
    case 'select': return svg('polygon', { points: `${x},${y - 10} ${x + 10},${y + 8} ${x - 10},${y + 8}`, class: 'shape' });
    case 'syncerror': return svg('polygon', { points: `${x},${y - 11} ${x + 11},${y} ${x},${y + 11} ${x - 11},${y}`, class: 'shape' });
    case 'delivery': return svg('polygon', { points: `${x - 6},${y - 6} ${x + 6},${y} ${x - 6},${y + 6}`, class: 'shape' });
    case 'ack': return svg('circle', { cx: x, cy: y, r: 6, class: 'shape' });
    case 'notification': return svg('circle', { cx: x, cy: y, r: 7, class: 'shape' });
    default: return svg('circle', { cx: x, cy: y, r: 5, class: 'shape' });
  }
}

/**
 * Draws the timeline. onPick({ entry, delivery?, mark }) is called when a mark is clicked or chosen with the keyboard;
 * the returned object moves the highlighted column (the slider's version).
 */
export function drawTimeline(entries, onPick) {
  const lanes = [];
  const laneOf = name => {
    let lane = lanes.find(l => l.name === name);
    if (!lane) lanes.push(lane = { name, sends: false, receives: false, index: lanes.length });
    return lane;
  };
  for (const entry of entries) {
    const lane = laneOf(entry.agent ?? 'unknown');
    if (entry.event) lane.sends = true;
    for (const delivery of entry.deliveries ?? []) laneOf(delivery.subscriber ?? delivery.endpoint).receives = true;
  }
  const width = LABEL + entries.length * COLUMN + 12;
  const height = HEAD + lanes.length * LANE + 8;
  const laneY = name => HEAD + lanes.find(l => l.name === name).index * LANE + LANE / 2;
  const columnX = index => LABEL + index * COLUMN + COLUMN / 2;

  const cursor = svg('rect', { class: 'cursor', x: 0, y: 2, width: COLUMN, height: height - 4, rx: 4, visibility: 'hidden' });
  const picture = svg('svg', { class: 'timeline', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'Session timeline' },
    lanes.map(lane => svg('g', { class: 'lane' },
      svg('rect', { x: 0, y: HEAD + lane.index * LANE, width, height: LANE, class: lane.index % 2 ? 'stripe odd' : 'stripe' }),
      svg('text', { x: 10, y: HEAD + lane.index * LANE + LANE / 2 - 2, class: 'lane-name' }, truncate(lane.name, 24)),
      svg('text', { x: 10, y: HEAD + lane.index * LANE + LANE / 2 + 13, class: 'lane-role' },
        [lane.sends && 'sends', lane.receives && 'receives'].filter(Boolean).join(' · ') || 'subscription steps'))),
    cursor,
    entries.map((entry, index) => column(entry, index)));

  function column(entry, index) {
    const x = columnX(index);
    const y = laneY(entry.agent ?? 'unknown');
    const kind = kindOf(entry);
    const deliveries = entry.deliveries ?? [];
    return svg('g', { class: 'column', 'data-version': entry.version },
      svg('text', { x, y: 16, class: 'version' }, `v${entry.version}`),
      svg('text', { x, y: 31, class: 'time' }, clock(entry.recorded)),
      deliveries.map(d => svg('line', { x1: x, y1: y, x2: x, y2: laneY(d.subscriber ?? d.endpoint), class: 'connector' })),
      deliveries.flatMap(d => {
        const lane = laneY(d.subscriber ?? d.endpoint);
        const ack = ackOf(d);
        return [
          mark({ entry, delivery: d }, 'delivery', x - 11, lane, `v${entry.version} ${d.event} delivered to ${d.subscriber} at ${clock(d.sent)}`, 'delivery'),
          mark({ entry, delivery: d }, 'ack', x + 11, lane, `v${entry.version} ack from ${d.subscriber}: ${d.status ?? ack}${d.latencyMs != null ? ` after ${d.latencyMs} ms` : ''}`, `ack ${ack}`),
        ];
      }),
      mark({ entry }, kind, x, y, `v${entry.version} ${labelOf(entry)} by ${entry.agent} at ${clock(entry.recorded)}${entry.outcome !== '0' ? ` (outcome ${entry.outcome})` : ''}`,
        `${kind}${entry.outcome !== '0' ? ' failed' : ''}`, labelOf(entry)));
  }

  function mark(picked, kind, x, y, title, classes, label) {
    const group = svg('g', {
      class: `mark ${classes}`, tabindex: 0, role: 'button', 'aria-label': title,
      'data-kind': kind, 'data-version': picked.entry.version,
      'data-event': kind === 'delivery' || kind === 'ack' ? null : picked.entry.event ?? picked.entry.step ?? picked.entry.type,
    }, svg('title', {}, title), shape(kind, x, y), label ? svg('text', { x, y: y + 23, class: 'mark-label' }, truncate(label, 12)) : null);
    const pick = () => onPick({ ...picked, mark: group });
    group.addEventListener('click', pick);
    group.addEventListener('keydown', event => { if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); pick(); } });
    return group;
  }

  return {
    element: el('div', { class: 'timeline-scroll' }, picture),
    /** Highlights the column of a stream version and scrolls it into view. */
    showVersion(version) {
      const index = entries.findIndex(e => e.version === version);
      cursor.setAttribute('visibility', index < 0 ? 'hidden' : 'visible');
      if (index < 0) return;
      cursor.setAttribute('x', LABEL + index * COLUMN);
      const scroller = picture.parentElement;
      const left = LABEL + index * COLUMN;
      if (scroller && (left < scroller.scrollLeft + LABEL || left + COLUMN > scroller.scrollLeft + scroller.clientWidth))
        scroller.scrollLeft = Math.max(0, left - scroller.clientWidth / 2);
    },
  };
}

function truncate(text, length) {
  const value = String(text ?? '');
  return value.length > length ? `${value.slice(0, length - 1)}…` : value;
}

/** The key to the marks, drawn with the same shapes. */
export function legend() {
  const items = [
    ['open', 'open'], ['update', 'update'], ['select', 'select'], ['close', 'close'], ['syncerror', 'SyncError'], ['notification', 'other event'],
    ['step', 'subscription step'], ['delivery', 'delivered'], ['ack ok', 'ack 2xx'], ['ack refused', 'ack with an error'], ['ack timedout', 'no ack in time'],
  ];
  return el('ul', { class: 'legend' }, items.map(([kind, text]) => el('li', {},
    svg('svg', { width: 26, height: 24, viewBox: '0 0 26 24' }, svg('g', { class: `mark ${kind}` }, shape(kind.split(' ')[0], 13, 12))), text)));
}
