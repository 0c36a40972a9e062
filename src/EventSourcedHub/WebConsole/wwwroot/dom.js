// Small helpers to build the pages without a framework.

/** An element: el('a', { href: '#', class: 'x', onclick: f }, 'text', child) */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  setAttributes(element, attributes);
  element.append(...children.flat().filter(c => c !== null && c !== undefined && c !== false));
  return element;
}

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element with the same shape of arguments as el(). */
export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  setAttributes(element, attributes);
  element.append(...children.flat().filter(c => c !== null && c !== undefined && c !== false));
  return element;
}

function setAttributes(element, attributes) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
}

/** Local date and time of an ISO instant, to the second (milliseconds when asked). */
export function time(iso, { milliseconds = false } = {}) {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n, width = 2) => String(n).padStart(width, '0');
  const text = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return milliseconds ? `${text}.${pad(date.getMilliseconds(), 3)}` : text;
}

/** Local time of day, for the timeline's axis. */
export function clock(iso) {
  return time(iso).slice(11);
}

export function pretty(json) {
  return JSON.stringify(json, null, 2);
}

/** A datetime-local or date input's value as an ISO instant (the browser's time zone), or ''. */
export function isoOf(localValue) {
  if (!localValue) return '';
  const date = new Date(localValue);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}
