// The live page: a client of the same API everyone else uses (/api/v1/state, /events,
// /nights, the SSE stream /live, /suspend). No build step, no library, no network beyond the
// monitor itself.
"use strict";

const WINDOW_SECONDS = 600;
// The server pings every 15 s: 30 s without any message means the link is gone.
const LINK_LOST_SECONDS = 30;

const $ = (id) => document.getElementById(id);
const points = []; // {t, cry, level}, t in stream seconds (the backlog's clock)
let threshold = null;
let lastMessage = 0;
let crying = null;
let suspendedUntil = null;
let alertsOn = false;
let audio = null;

function clock(unix) {
  return new Date(unix * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function minutesSince(unix) {
  const m = Math.max(0, Math.round((Date.now() / 1000 - unix) / 60));
  return m < 1 ? "just now" : m === 1 ? "1 minute" : `${m} minutes`;
}

async function api(path, options) {
  const res = await fetch(path, Object.assign({ credentials: "same-origin" }, options));
  if (res.status === 401) {
    window.location.href = "/";
    throw new Error("signed out");
  }
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

function showBanner() {
  const banner = $("banner");
  if (crying) {
    banner.dataset.state = "crying";
    $("banner-title").textContent = "Crying";
    $("banner-detail").textContent =
      `since ${clock(crying.since)} (${minutesSince(crying.since)}) · ${crying.reason}` +
      (crying.prob != null ? ` ${Math.round(crying.prob * 100)} %` : "");
  } else if (crying === false || crying === undefined) {
    banner.dataset.state = "calm";
    $("banner-title").textContent = "Calm";
    $("banner-detail").textContent = "";
  }
}

function showSuspended() {
  const on = suspendedUntil && suspendedUntil > Date.now() / 1000;
  $("suspended").textContent = on ? `alerts suspended until ${clock(suspendedUntil)}` : "";
  $("suspend").hidden = !!on;
  $("resume").hidden = !on;
}

function addEvent(e, atTop) {
  const li = document.createElement("li");
  li.dataset.type = e.event_type;
  li.dataset.seq = e.seq;
  const what = {
    cry_started: () => `cry (${e.reason})`,
    calm: () => `calm after ${e.reason}`,
    alerts_suspended: () => `alerts suspended for ${e.minutes} min`,
    alerts_resumed: () => e.expired ? "alerts back (suspension over)" : "alerts resumed",
  }[e.event_type];
  if (!what) return;
  li.textContent = `${clock(e.unix_time)} ${what()}`;
  const list = $("events");
  if (atTop) list.prepend(li); else list.append(li);
  while (list.children.length > 50) list.lastChild.remove();
}

function draw() {
  const canvas = $("chart");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  // The x axis is stream time, ending at the newest window: a stalled source freezes it.
  const now = points.length ? points[points.length - 1].t : 0;
  while (points.length && points[0].t < now - WINDOW_SECONDS) points.shift();
  canvas.dataset.points = points.length;
  ctx.clearRect(0, 0, w, h);
  // Up to 10 minutes; less (at least one) just after a start, so the first seconds show.
  const span = points.length ? Math.max(60, Math.min(WINDOW_SECONDS, now - points[0].t)) : WINDOW_SECONDS;
  const x = (t) => ((t - (now - span)) / span) * w;
  const yProb = (p) => h - 8 - p * (h - 16);
  const yLevel = (db) => yProb(Math.min(1, Math.max(0, (db + 90) / 90)));
  ctx.strokeStyle = "#222835";
  for (let m = 1; m < 10; m++) {
    ctx.beginPath(); ctx.moveTo((m / 10) * w, 0); ctx.lineTo((m / 10) * w, h); ctx.stroke();
  }
  ctx.fillStyle = "#8a93a6"; ctx.font = "12px system-ui";
  ctx.fillText("1", 4, 14); ctx.fillText("0 dBFS", w - 48, 14);
  if (threshold != null) {
    ctx.strokeStyle = "#f4d03f"; ctx.setLineDash([6, 4]);
    ctx.beginPath(); ctx.moveTo(0, yProb(threshold)); ctx.lineTo(w, yProb(threshold)); ctx.stroke();
    ctx.setLineDash([]);
  }
  const series = (key, y, colour) => {
    ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.beginPath();
    let started = false;
    for (const p of points) {
      if (p[key] == null) { started = false; continue; }
      if (started) ctx.lineTo(x(p.t), y(p[key])); else ctx.moveTo(x(p.t), y(p[key]));
      started = true;
    }
    ctx.stroke(); ctx.lineWidth = 1;
  };
  series("level", yLevel, "#5dade2");
  series("cry", yProb, "#ff6b5b");
  ctx.fillStyle = "#8a93a6"; ctx.font = "12px system-ui";
  ctx.fillText(span >= 120 ? `-${Math.round(span / 60)} min` : `-${Math.round(span)} s`, 4, h - 4);
  ctx.fillText("now", w - 28, h - 4);
}

function alarm(text) {
  if (!alertsOn) return;
  if (suspendedUntil && suspendedUntil > Date.now() / 1000) return;
  if ("Notification" in window && Notification.permission === "granted") {
    new Notification("Cry monitor", { body: text, tag: "cry-monitor" });
  }
  if (audio) {
    const osc = audio.createOscillator();
    osc.frequency.value = 880;
    osc.connect(audio.destination);
    osc.start(); osc.stop(audio.currentTime + 0.6);
  }
}

function setLink(state, text) {
  const link = $("link");
  if (link.dataset.state !== state && state === "lost") alarm("The monitor's link dropped");
  link.dataset.state = state;
  link.textContent = text;
}

function onWindow(w) {
  points.push({ t: w.t, cry: w.cry_prob, level: w.level_dbfs });
}

function onEvent(e) {
  if (e.event_type === "cry_started") {
    crying = { since: e.unix_time, reason: e.reason, prob: e.confidence };
    alarm(`Crying (${e.reason})`);
  } else if (e.event_type === "calm") {
    crying = false;
  } else if (e.event_type === "alerts_resumed") {
    suspendedUntil = null;
    showSuspended();
  }
  addEvent(e, true);
  showBanner();
}

function connect() {
  const source = new EventSource("/api/v1/live");
  const seen = () => { lastMessage = Date.now(); setLink("live", "live"); };
  source.addEventListener("window", (m) => { seen(); onWindow(JSON.parse(m.data)); });
  source.addEventListener("event", (m) => { seen(); onEvent(JSON.parse(m.data)); });
  source.addEventListener("suspend", (m) => { seen(); suspendedUntil = JSON.parse(m.data).until; showSuspended(); });
  source.addEventListener("ping", seen);
  source.onerror = () => setLink(lastMessage ? "lost" : "connecting", lastMessage ? "link lost: reconnecting" : "connecting…");
}

async function loadNight() {
  try {
    const { nights } = await api("/api/v1/nights?last=2");
    // The night that ended most recently: the current one once it is over, else the one before.
    const n = nights.filter((x) => !x.in_progress).pop() || nights[nights.length - 1];
    if (!n) return;
    const longest = n.longest_minutes.toFixed(0);
    $("night-summary").textContent = n.episodes === 0
      ? `${n.night}: no crying`
      : `${n.night}: ${n.episodes} episode${n.episodes > 1 ? "s" : ""}, ${n.cry_minutes.toFixed(0)} min crying ` +
        `(longest ${longest} min), first ${n.first_cry.local}, last ${n.last_cry.local}; ` +
        Object.entries(n.reasons).map(([r, c]) => `${r} ${c}`).join(", ");
  } catch (e) {
    $("night-summary").textContent = "no summary";
  }
}

async function start() {
  const state = await api("/api/v1/state");
  threshold = state.thresholds ? state.thresholds.cry_prob : null;
  $("model").textContent = state.model ? state.model.name : "";
  crying = state.crying ? { since: state.since_unix_time, reason: state.reason, prob: state.reason_prob } : false;
  suspendedUntil = state.suspended_until;
  showBanner();
  showSuspended();
  const { events } = await api("/api/v1/events?limit=20");
  for (const e of events.reverse()) addEvent(e, false);
  loadNight();
  connect();
  setInterval(() => {
    if (lastMessage && Date.now() - lastMessage > LINK_LOST_SECONDS * 1000) {
      setLink("lost", `LINK LOST: no message for ${Math.round((Date.now() - lastMessage) / 1000)} s`);
    }
    showBanner();
    showSuspended();
    draw();
  }, 1000);
  setInterval(loadNight, 10 * 60 * 1000);
}

$("suspend").addEventListener("click", async () => {
  const minutes = Number($("suspend-minutes").value);
  const r = await api("/api/v1/suspend", {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ minutes }),
  });
  suspendedUntil = r.until; showSuspended();
});
$("resume").addEventListener("click", async () => {
  const r = await api("/api/v1/suspend", {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ minutes: 0 }),
  });
  suspendedUntil = r.until; showSuspended();
});
$("notify").addEventListener("click", async () => {
  alertsOn = true;
  audio = audio || new (window.AudioContext || window.webkitAudioContext)();
  if ("Notification" in window) await Notification.requestPermission();
  $("notify").textContent = "Notifications and sound on";
});
if (!window.isSecureContext) {
  $("notify-note").textContent =
    "Browser notifications need https or localhost: on this address only the sound and this page alarm.";
}

start().catch((e) => { $("banner-title").textContent = "cannot reach the monitor"; console.error(e); });
