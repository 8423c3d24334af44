// GridSense console: plain script, no build step. Reads the API with the
// session cookie, listens to /api/events, and raises a full-screen,
// audible alert for a new fire. All text is set with textContent.
'use strict';

const T = {
  zh: { fire: '火警', ack: '确认', reset: '复位', cancel: '误报撤销', silence: '静音', logout: '退出', login: '登录',
    user: '用户名', password: '密码', alarms: '报警', orders: '工单', site: '场所', kpi: '考核', maint: '维护',
    rejects: '拒收', no_alarms: '无报警', open_only: '只看未结', cell: '网格', period: '期间', closure: '办结率',
    ack_p: '响应 均值/P90', close_p: '办结 均值/P90', cards: '黄/红牌', target: '设备/楼栋/防火分区', reason: '原因',
    start: '开始', end: '结束', source: '来源', last: '最近', detail: '详情', held: '锁定：探测器仍在报警，不能复位',
    free: '探测器已恢复，可以复位', test: '测试', accept: '接单', dispatch: '派遣', resolve: '处置完成', close: '办结',
    left: '剩余', overdue: '超时', this_month: '本月', last_month: '上月', all_time: '累计', bad_login: '用户名或密码错误',
    too_many: '尝试次数过多，请稍后再试', devices: '设备', online: '在线', until: '至', by: '操作人',
    'pre-alarm': '预警', active: '报警中', acknowledged: '已确认', cleared: '已消除', reset_state: '已复位', cancelled: '已撤销',
    new: '新建', sent: '已上报', accepted: '已接单', dispatched: '已派遣', resolved: '已处置', closed: '已办结', rejected: '已拒绝',
    k_fire: '火警', k_gas: '燃气泄漏', 'k_water-leak': '漏水', 'k_water-level': '水位', k_intrusion: '入侵',
    'k_door-forced': '强行开门', 'k_door-held': '门长时间未关', 'k_fire-lane-blocked': '消防通道堵塞',
    'k_ebike-overheat': '电动车充电过热', 'k_elevator-fault': '电梯困人/故障', 'k_manhole-open': '井盖异常',
    k_threshold: '超限', 'k_help-call': '居民求助', note: '处理说明（办结时告知居民）', k_tamper: '防拆', 'k_device-offline': '设备离线', 'k_sensor-fault': '传感器故障' },
  en: { fire: 'FIRE', ack: 'Acknowledge', reset: 'Reset', cancel: 'False alarm', silence: 'Silence', logout: 'Log out',
    login: 'Log in', user: 'User', password: 'Password', alarms: 'Alarms', orders: 'Orders', site: 'Site', kpi: 'KPIs',
    maint: 'Maintenance', rejects: 'Rejects', no_alarms: 'No alarms', open_only: 'Open only', cell: 'Cell',
    period: 'Period', closure: 'Closure rate', ack_p: 'Accept mean/p90', close_p: 'Close mean/p90', cards: 'Yellow/red',
    target: 'device / building / fire zone', reason: 'reason', start: 'Start', end: 'End', source: 'Source', last: 'Last seen',
    detail: 'Detail', held: 'Latched: a detector is still in alarm; reset is refused', free: 'Detectors restored: reset allowed',
    test: 'test', accept: 'Accept', dispatch: 'Dispatch', resolve: 'Resolved', close: 'Close', left: 'left',
    overdue: 'overdue', this_month: 'This month', last_month: 'Last month', all_time: 'All time',
    bad_login: 'Wrong user name or password', too_many: 'Too many attempts; wait a minute', devices: 'devices',
    online: 'online', until: 'until', by: 'by', 'pre-alarm': 'pre-alarm', active: 'active', acknowledged: 'acknowledged',
    cleared: 'cleared', reset_state: 'reset', cancelled: 'cancelled', new: 'new', sent: 'sent', accepted: 'accepted',
    dispatched: 'dispatched', resolved: 'resolved', closed: 'closed', rejected: 'rejected',
    note: 'note (told to the reporter when closed)' },
};
let lang = localStorage.getItem('gs-lang') || 'zh';
const t = (k) => (T[lang][k] ?? T.en[k] ?? k);
const kindName = (k) => (lang === 'zh' ? (T.zh['k_' + k] || k) : k);
const stateName = (s) => t(s === 'reset' ? 'reset_state' : s);
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, ''); else if (v !== false && v != null) e.setAttribute(k, v);
  }
  for (const c of kids) if (c != null) e.append(c instanceof Node ? c : String(c));
  return e;
}

const state = { alarms: new Map(), orders: new Map(), serverNow: 0, fetchedAt: 0, me: null, site: null,
  firesSeen: new Set(), silenced: false, audio: null, beeper: null };

function applyLang() {
  document.documentElement.lang = lang;
  $('lang').textContent = lang === 'zh' ? 'English' : '中文';
  for (const e of document.querySelectorAll('[data-t]')) e.textContent = t(e.dataset.t);
  for (const e of document.querySelectorAll('[data-ph]')) e.placeholder = t(e.dataset.ph);
  renderAll();
}

async function api(method, path, body) {
  const r = await fetch(path, { method, credentials: 'same-origin',
    headers: body ? { 'Content-Type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  let json = null; try { json = JSON.parse(text); } catch (_) { json = text; }
  if (r.status === 401 && path !== '/api/login') showLogin();
  return { ok: r.ok, status: r.status, json };
}
function say(text, bad) { const m = $('msg'); m.textContent = text || ''; m.className = bad ? 'msg err' : 'msg'; }

// ---- login ----
function showLogin() { $('app').hidden = true; $('login-box').hidden = false; $('logout').hidden = true; $('who').textContent = ''; }
async function start() {
  const me = await api('GET', '/api/me');
  if (!me.ok) return showLogin();
  state.me = me.json;
  $('who').textContent = me.json.user + ' (' + me.json.role + ')';
  $('login-box').hidden = true; $('app').hidden = false; $('logout').hidden = false;
  await loadAll();
  listen();
}
$('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  unlockAudio();
  const r = await api('POST', '/api/login', { user: $('user').value, password: $('password').value });
  $('password').value = '';
  if (!r.ok) { $('login-err').textContent = r.status === 429 ? t('too_many') : t('bad_login'); return; }
  $('login-err').textContent = '';
  start();
});
$('logout').addEventListener('click', async () => { await api('POST', '/api/logout'); location.reload(); });
$('lang').addEventListener('click', () => { lang = lang === 'zh' ? 'en' : 'zh'; localStorage.setItem('gs-lang', lang); applyLang(); });
for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => {
  for (const x of document.querySelectorAll('#tabs button')) x.classList.toggle('on', x === b);
  for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== 'tab-' + b.dataset.tab;
});

// ---- data ----
async function loadAll() {
  const [alarms, orders] = await Promise.all([api('GET', '/api/alarms'), loadOrders()]);
  if (alarms.ok) { state.alarms = new Map(alarms.json.map((a) => [a.id, a])); for (const a of alarms.json) noticeFire(a, true); }
  renderAlarms();
  loadSite(); loadKpi(); loadMaint(); loadRejects();
}
async function loadOrders() {
  const r = await api('GET', '/api/orders?limit=200' + ($('orders-open').checked ? '&open=true' : ''));
  if (r.ok) { state.orders = new Map(r.json.orders.map((o) => [o.order.order_id, o])); state.serverNow = r.json.now; state.fetchedAt = Date.now(); }
  renderOrders();
  return r;
}
$('orders-open').addEventListener('change', loadOrders);
const now = () => state.serverNow + (Date.now() - state.fetchedAt);

function listen() {
  const es = new EventSource('/api/events');
  es.onopen = () => $('live').classList.add('on');
  es.onerror = () => $('live').classList.remove('on');
  es.addEventListener('alarm', (m) => { const ev = JSON.parse(m.data); onAlarm(ev.data); });
  es.addEventListener('order', (m) => { const o = JSON.parse(m.data).data; state.orders.set(o.order.order_id, o); renderOrders(); });
  es.addEventListener('device', debounce(loadSite, 500));
  es.addEventListener('kpi', debounce(loadKpi, 500));
  es.addEventListener('lagged', () => loadAll());
}
function debounce(f, ms) { let h = null; return () => { clearTimeout(h); h = setTimeout(f, ms); }; }

// When each alarm reached each state on this screen (tests and field checks read it).
window.__alarmSeen = {};
function onAlarm(a) {
  const key = a.id + ':' + a.state;
  if (!(key in window.__alarmSeen)) window.__alarmSeen[key] = Date.now();
  const over = ['reset', 'cancelled', 'cleared'].includes(a.state);
  if (over) state.alarms.delete(a.id); else state.alarms.set(a.id, a);
  noticeFire(a, false);
  renderAlarms();
}

// ---- fire alert ----
const isLiveFire = (a) => a.kind === 'fire' && !a.test && (a.state === 'active' || a.state === 'pre-alarm');
function noticeFire(a) {
  if (isLiveFire(a) && !state.firesSeen.has(a.id)) {
    state.firesSeen.add(a.id);
    window.__fireSeenAt = window.__fireSeenAt || Date.now();
    state.silenced = false;
    sound(true);
  }
  renderFire();
}
function renderFire() {
  const fires = [...state.alarms.values()].filter(isLiveFire);
  $('fire').hidden = fires.length === 0;
  if (!fires.length) { sound(false); return; }
  const f = fires[0];
  $('fire-where').textContent = f.location + ' · ' + f.id + ' · ' + stateName(f.state);
  $('fire-ack').onclick = () => act(f.id, 'ack');
}
function unlockAudio() {
  try { state.audio = state.audio || new (window.AudioContext || window.webkitAudioContext)(); state.audio.resume(); } catch (_) {}
}
function sound(on) {
  if (!on || state.silenced) { clearInterval(state.beeper); state.beeper = null; window.__alarmSounding = false; return; }
  if (state.beeper) return;
  window.__alarmSounding = true;
  let hi = true;
  state.beeper = setInterval(() => {
    const ctx = state.audio; if (!ctx) return;
    const o = ctx.createOscillator(); const g = ctx.createGain();
    o.frequency.value = hi ? 960 : 640; hi = !hi; g.gain.value = 0.3;
    o.connect(g); g.connect(ctx.destination); o.start(); o.stop(ctx.currentTime + 0.35);
  }, 400);
}
$('fire-silence').addEventListener('click', () => { state.silenced = true; sound(false); });

// ---- alarms ----
const latching = (a) => a.kind === 'fire' || a.kind === 'gas';
async function act(id, action) {
  const r = await api('POST', '/api/alarms/' + encodeURIComponent(id) + '/' + action, { reason: 'console' });
  say(r.ok ? id + ': ' + t(action) : (r.json && r.json.detail) || r.status, !r.ok);
  if (r.ok) { const a = (await api('GET', '/api/alarms')); if (a.ok) { state.alarms = new Map(a.json.map((x) => [x.id, x])); renderAlarms(); } }
}
function renderAlarms() {
  const box = $('alarms'); box.replaceChildren();
  const list = [...state.alarms.values()].sort((a, b) => (b.kind === 'fire') - (a.kind === 'fire') || b.raised_at - a.raised_at);
  $('alarms-empty').hidden = list.length > 0;
  for (const a of list) {
    const held = latching(a) && a.condition;
    const latch = latching(a) ? el('span', { class: 'latch ' + (held ? 'held' : 'free') }, t(held ? 'held' : 'free')) : null;
    box.append(el('div', { class: `alarm kind-${a.kind} sev-${a.severity} st-${a.state}`, 'data-id': a.id, 'data-state': a.state },
      el('div', {},
        el('div', { class: 'title' }, kindName(a.kind), ' · ', a.location, a.test ? el('span', { class: 'tag' }, t('test')) : null),
        el('div', {}, a.id, ' · ', el('span', { class: 'state' }, stateName(a.state)), ' · ', a.devices.join(', '),
          ' · ', new Date(a.raised_at).toLocaleTimeString()),
        latch),
      el('div', { class: 'acts' },
        el('button', { class: 'ack', disabled: a.state !== 'active' && a.state !== 'pre-alarm', onclick: () => act(a.id, 'ack') }, t('ack')),
        el('button', { class: 'reset', disabled: held, title: held ? t('held') : '', onclick: () => act(a.id, 'reset') }, t('reset')),
        el('button', { class: 'cancel', onclick: () => act(a.id, 'cancel') }, t('cancel')))));
  }
  renderFire();
}

// ---- orders ----
const NEXT = { new: ['accept'], sent: ['accept'], accepted: ['dispatch', 'resolve'], dispatched: ['resolve'], resolved: ['close'] };
function dur(ms) { const s = Math.round(Math.abs(ms) / 1000); const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
  return (h ? h + 'h' : '') + String(m).padStart(h ? 2 : 1, '0') + 'm' + String(s % 60).padStart(2, '0') + 's'; }
async function orderAct(id, action) {
  const note = $('order-note').value.trim();
  const r = await api('POST', '/api/orders/' + encodeURIComponent(id) + '/' + action, note ? { note } : {});
  say(r.ok ? id + ': ' + t(action) : (r.json && r.json.detail) || r.status, !r.ok);
  loadOrders();
}
function renderOrders() {
  const box = $('orders'); box.replaceChildren();
  const open = $('orders-open').checked;
  const list = [...state.orders.values()].filter((o) => !open || !['closed', 'cancelled', 'rejected'].includes(o.state))
    .sort((a, b) => b.opened_at - a.opened_at);
  for (const o of list) {
    const u = o.order; const final = ['closed', 'cancelled', 'rejected'].includes(o.state);
    const deadline = o.acked_at ? u.close_by : u.ack_by; const left = deadline - now();
    const cls = final ? '' : (left < 0 || o.red_cards ? 'late' : (o.yellow_cards ? 'warn' : ''));
    const cards = [...Array(o.yellow_cards)].map(() => el('span', { class: 'yc', title: 'yellow' }))
      .concat([...Array(o.red_cards)].map(() => el('span', { class: 'rc', title: 'red' })));
    box.append(el('div', { class: 'order ' + cls, 'data-id': u.order_id, 'data-state': o.state },
      el('div', {},
        el('b', {}, kindName(u.kind), ' · ', u.location), ' ', ...cards,
        el('div', {}, u.order_id, ' · ', el('span', { class: 'state' }, t(o.state)), ' · ', u.summary || ''),
        final ? null : el('div', { class: 'sla' + (left < 0 ? ' late' : ''), 'data-deadline': deadline },
          left < 0 ? t('overdue') + ' ' + dur(left) : dur(left) + ' ' + t('left'))),
      el('div', { class: 'acts' }, ...(NEXT[o.state] || []).map((a) =>
        el('button', { class: 'order-' + a, onclick: () => orderAct(u.order_id, a) }, t(a))))));
  }
}
setInterval(() => { for (const e of document.querySelectorAll('.sla[data-deadline]')) {
  const left = Number(e.dataset.deadline) - now();
  e.textContent = left < 0 ? t('overdue') + ' ' + dur(left) : dur(left) + ' ' + t('left'); e.classList.toggle('late', left < 0);
} }, 1000);

// ---- site ----
async function loadSite() {
  const r = await api('GET', '/api/site'); if (!r.ok) return;
  state.site = r.json; $('site').textContent = r.json.site; renderSite();
}
function renderSite() {
  if (!state.site) return;
  const kids = new Map();
  for (const n of state.site.nodes) { const p = n.parent || ''; if (!kids.has(p)) kids.set(p, []); kids.get(p).push(n); }
  const branch = (p) => { const ul = el('ul', {});
    for (const n of kids.get(p) || []) {
      const li = el('li', {}, el('span', { class: 'node' + (n.alarms.length ? ' alarm-in' : ''), 'data-id': n.id },
        n.name, ' ', el('span', { class: 'cnt' }, `${n.online}/${n.devices} ${t('online')}`),
        n.alarms.length ? ' ⚠ ' + n.alarms.join(', ') : ''));
      if (kids.has(n.id)) li.append(branch(n.id));
      ul.append(li);
    }
    return ul; };
  $('tree').replaceChildren(...branch('').childNodes);
}

// ---- KPIs ----
async function loadKpi() {
  const r = await api('GET', '/api/kpi'); if (!r.ok) return;
  const tb = $('kpi').querySelector('tbody'); tb.replaceChildren();
  const ms = (v) => (v == null ? '–' : dur(v));
  for (const c of r.json.cells) for (const p of ['this_month', 'last_month', 'all_time']) {
    const k = c[p];
    tb.append(el('tr', {}, el('td', {}, c.cell), el('td', {}, t(p)), el('td', {}, k.orders),
      el('td', {}, Math.round(k.closure_rate * 100) + '%'), el('td', {}, ms(k.ack_mean_ms) + ' / ' + ms(k.ack_p90_ms)),
      el('td', {}, ms(k.close_mean_ms) + ' / ' + ms(k.close_p90_ms)), el('td', {}, k.yellow_cards + ' / ' + k.red_cards)));
  }
}

// ---- maintenance ----
async function loadMaint() {
  const r = await api('GET', '/api/maintenance'); if (!r.ok) return;
  const box = $('maint'); box.replaceChildren();
  for (const w of r.json) box.append(el('div', { class: 'card' }, el('b', {}, w.target), ` (${w.scope}) `, t('until'), ' ',
    new Date(w.until).toLocaleString(), ' · ', t('by'), ' ', w.by, ' · ', w.reason, ' ',
    el('button', { onclick: async () => { const x = await api('POST', '/api/maintenance', { target: w.target, on: false, by: state.me.user, reason: 'console' });
      say(x.ok ? '' : x.json.detail, !x.ok); loadMaint(); } }, t('end'))));
}
$('maint-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const r = await api('POST', '/api/maintenance', { target: $('maint-target').value, on: true,
    for_s: Number($('maint-for').value), by: state.me.user, reason: $('maint-reason').value });
  say(r.ok ? '' : r.json.detail, !r.ok); loadMaint();
});

// ---- rejects ----
async function loadRejects() {
  const r = await api('GET', '/api/quarantine'); if (!r.ok) return;
  $('reject-counts').textContent = Object.entries(r.json.counts).map(([k, v]) => k + ': ' + v).join(' · ');
  const tb = $('rejects').querySelector('tbody'); tb.replaceChildren();
  for (const q of r.json.rows) tb.append(el('tr', {}, el('td', {}, q.source), el('td', {}, q.reason), el('td', {}, q.count),
    el('td', {}, new Date(q.last_seen).toLocaleString()), el('td', {}, q.topic + ' ' + q.detail)));
}

function renderAll() { renderAlarms(); renderOrders(); renderSite(); }
applyLang();
start();
