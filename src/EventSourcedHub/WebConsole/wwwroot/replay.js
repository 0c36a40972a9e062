// Replay: re-publish a recorded session into a new topic at a chosen speed, and follow the run until it is done.
import { call, errorBox, topicPath } from './api.js';
import { el, time } from './dom.js';

// Runs started from this tab, newest first; kept while the tab lives.
const runs = [];

const STATUS = { running: 'running', cancelling: 'cancelling', completed: 'done', cancelled: 'cancelled', failed: 'failed' };

export function replayPage(main, { query }) {
  const source = query.get('source') ?? '';
  const form = el('form', { class: 'filters', id: 'replay-form' },
    el('label', {}, 'Session', el('input', { name: 'source', class: 'wide', required: true, list: 'topics', value: source, placeholder: 'the recorded topic' })),
    el('label', {}, 'Into new topic', el('input', { name: 'target', class: 'wide', required: true, value: source ? `${source}-replay-${Math.random().toString(36).slice(2, 6)}` : '' })),
    el('label', {}, 'Speed', el('select', { name: 'speed' },
      [['0', 'as fast as possible'], ['1', '1× (as recorded)'], ['2', '2×'], ['5', '5×'], ['10', '10×'], ['60', '60×']]
        .map(([value, text]) => el('option', { value, selected: value === '1' }, text)))),
    el('label', {}, 'From version', el('input', { name: 'fromVersion', type: 'number', min: 1, placeholder: 'first' })),
    el('label', {}, 'To version', el('input', { name: 'toVersion', type: 'number', min: 1, placeholder: 'last' })),
    el('button', { type: 'submit' }, 'Start replay'),
    el('datalist', { id: 'topics' }));
  const fields = form.elements;
  const problem = el('div', {});
  const list = el('div', { class: 'runs' });
  main.append(el('h1', {}, 'Replay'),
    el('p', { class: 'muted' }, 'Re-publishes the session\'s notifications through the hub into a new topic, paced by the recorded times divided by the speed. Subscribers of the new topic receive them as live events.'),
    form, problem, list);

  call('/api/sessions').then(summaries => form.querySelector('#topics').replaceChildren(...summaries.map(s => el('option', { value: s.id }))),
    // The list only helps typing; without it (no audit scope) the field still takes any topic.
    () => {});
  fields.source.addEventListener('change', () => {
    if (!fields.target.value) fields.target.value = `${fields.source.value}-replay-${Math.random().toString(36).slice(2, 6)}`;
  });

  form.addEventListener('submit', async event => {
    event.preventDefault();
    problem.replaceChildren();
    const body = { targetTopic: fields.target.value.trim(), speed: Number(fields.speed.value) };
    if (fields.fromVersion.value) body.fromVersion = Number(fields.fromVersion.value);
    if (fields.toVersion.value) body.toVersion = Number(fields.toVersion.value);
    try {
      const run = await call(`${topicPath(fields.source.value.trim())}/replay`, { method: 'POST', body });
      runs.unshift(run);
      draw();
    } catch (error) {
      problem.replaceChildren(errorBox(error));
    }
  });

  let timer = 0;
  let left = false;

  function draw() {
    list.replaceChildren(...runs.map(card));
    clearTimeout(timer);
    if (!left && runs.some(r => r.status === 'running' || r.status === 'cancelling')) timer = setTimeout(poll, 400);
  }

  async function poll() {
    await Promise.all(runs.map(async (run, index) => {
      if (run.status !== 'running' && run.status !== 'cancelling') return;
      try {
        runs[index] = await call(`/api/replays/${run.id}`);
      } catch (error) {
        runs[index] = { ...run, status: 'failed', error };
      }
    }));
    if (!left) draw();
  }

  function card(run) {
    const finished = run.published + run.rejected;
    const status = STATUS[run.status] ?? run.status;
    return el('article', { class: `run ${run.status}`, 'data-replay': run.id },
      el('h2', {}, el('code', {}, run.sourceTopic), ' → ', el('a', { href: `#/session/${encodeURIComponent(run.targetTopic)}` }, run.targetTopic)),
      el('div', { class: 'progress-row' },
        el('progress', { max: Math.max(run.total, 1), value: run.total ? finished : 1 }),
        el('span', { class: 'run-status' }, status)),
      el('p', {}, `${run.published} published, ${run.rejected} rejected of ${run.total} notifications · versions ${run.fromVersion}..${run.toVersion} · speed ${run.speed === 0 ? 'as fast as possible' : `${run.speed}×`}`),
      el('p', { class: 'muted' }, `started ${time(run.started)}${run.finished ? ` · finished ${time(run.finished)}` : ''}`),
      run.error ? errorBox(run.error) : null,
      run.status === 'running'
        ? el('button', { type: 'button', onclick: async () => { try { await call(`/api/replays/${run.id}`, { method: 'DELETE' }); } catch (error) { problem.replaceChildren(errorBox(error)); } draw(); } }, 'Cancel')
        : null);
  }

  draw();
  return () => { left = true; clearTimeout(timer); };
}
