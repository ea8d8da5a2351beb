/* finsent dashboard: fills the page shells from the JSON API and refreshes them.
 * Every value from the data goes into the page as text (textContent / text nodes), never as
 * markup, so a headline like "<script>..." shows as typed. Links from the data must be http(s).
 */
"use strict";
(() => {
  const body = document.body;
  const page = body.dataset.page;
  const REFRESH_MS = Number(body.dataset.refresh || 15) * 1000;
  const CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const COLORS = { negative: "#d64545", neutral: "#9aa5b4", positive: "#2e9d68", line: "#1c2430", resolved: "#2e9d68" };

  // ---- DOM and formatting helpers -------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const $ = (selector) => document.querySelector(selector);
  const safeUrl = (url) => (typeof url === "string" && /^https?:\/\//i.test(url) ? url : null);
  const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 100)}%`);
  const score = (x) => (x === null || x === undefined ? "–" : `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(2)}`);
  const when = (iso) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : "–");
  const hhmm = (iso) => (iso ? iso.slice(11, 16) : "–");
  const epoch = (iso) => Date.parse(iso) / 1000;
  const topicUrl = (topic) => `/topics/${encodeURIComponent(topic)}`;
  const alertUrl = (id) => `/alerts/${encodeURIComponent(id)}`;
  const badge = (status, text) => el("span", { class: `badge ${status}`, text: text || status });
  const sentiment = (s) => el("span", { class: `sent sent-${s}`, text: s });
  function delta(now, before, unit) {
    if (now === null || now === undefined || before === null || before === undefined) return null;
    const d = now - before;
    const text = unit === "pct" ? `${d >= 0 ? "+" : "−"}${Math.abs(Math.round(d * 100))} pt` : score(d);
    const worse = unit === "pct" ? d > 0.005 : d < -0.005;
    const better = unit === "pct" ? d < -0.005 : d > 0.005;
    return el("span", { class: worse ? "up" : better ? "down" : "muted", text });
  }

  async function api(path, options = {}) {
    const headers = { Accept: "application/json" };
    const init = { credentials: "same-origin", method: options.method || "GET", headers };
    if (init.method !== "GET") headers["X-CSRF-Token"] = CSRF;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.json);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
      throw new Error("signed out");
    }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      const detail = data && data.errors ? `: ${data.errors.map((e) => e.msg).join("; ")}` : "";
      throw new Error(`${(data && data.error) || `HTTP ${response.status}`}${detail}`);
    }
    return data;
  }

  function setClock(meta) {
    if (!meta) return;
    const version = meta.model_version ? ` · model ${meta.model_version}` : "";
    $("#asof").textContent = `as of ${when(meta.as_of)} UTC${version}`;
  }
  function setStatus(error) {
    const status = $("#status");
    status.classList.toggle("error", Boolean(error));
    status.textContent = error ? `update failed: ${error.message}` : `updated ${new Date().toTimeString().slice(0, 8)}`;
  }
  function every(load) {
    const run = () => load().then(() => setStatus(null), setStatus);
    run();
    setInterval(() => { if (!document.hidden) run(); }, REFRESH_MS);
    return run;
  }

  const charts = new Map();
  function chart(key, options, data, target) {
    if (charts.has(key)) charts.get(key).destroy();
    const made = new uPlot(options, data, target);
    charts.set(key, made);
    return made;
  }
  function sparkline(key, points, target) {
    const xs = points.map((p) => epoch(p.start) + 1800);
    const ys = points.map((p) => p.negative_share);
    const options = {
      width: 150, height: 34, legend: { show: false }, cursor: { show: false }, select: { show: false },
      scales: { x: { time: false }, y: { range: [0, 1] } },
      axes: [{ show: false }, { show: false }],
      series: [{}, { stroke: COLORS.negative, fill: "rgba(214,69,69,0.12)", width: 1.5, spanGaps: true, points: { size: 3 } }],
    };
    return chart(key, options, [xs, ys], target);
  }

  // ---- rendering shared by pages ---------------------------------------------------------
  function entityChips(entities) {
    const seen = new Set();
    const chips = [];
    for (const e of entities || []) {
      const text = e.ticker || e.text;
      if (seen.has(text)) continue;
      seen.add(text);
      // the entity's own sentiment, when the model gave one: a coloured edge and the tooltip say it
      const mood = e.sentiment ? ` ${e.sentiment}` : "";
      const title = e.sentiment ? `${e.label}: ${e.sentiment} (${e.sentiment_score.toFixed(2)})` : e.label;
      chips.push(el("span", { class: (e.ticker ? "chip ticker" : "chip") + mood, title, text }));
    }
    return chips;
  }
  function articleItem(a) {
    const url = safeUrl(a.url);
    const headline = url
      ? el("a", { class: "headline", href: url, rel: "noopener noreferrer", target: "_blank", text: a.title })
      : el("span", { class: "headline", text: a.title });
    return el(
      "li",
      { "data-news-id": a.news_id },
      el("span", { class: "when", text: when(a.published_at) }),
      sentiment(a.sentiment),
      headline,
      el("span", { class: "sub" }, `${a.source} · ${a.topic} · P(neg) ${pct(a.p_negative)} · score ${score(a.sentiment_score)} `, entityChips(a.entities)),
      a.towards ? towardsLine(a.towards) : null,
    );
  }
  // in a per-ticker alert's evidence: the sentiment towards the ticker that the rule counted
  function towardsLine(t) {
    const basis = !t.own ? "the headline's (the mention has no sentiment)"
      : t.source === "sentence" ? "the sentence naming it (the entity output was unsure)" : "its own mention";
    return el("span", { class: "sub towards", title: `counted for ${t.ticker}: ${basis}` },
      `towards ${t.ticker}: `, sentiment(t.sentiment),
      ` score ${score(t.sentiment_score)}${!t.own ? " · headline's" : t.source === "sentence" ? " · its sentence's" : ""}`);
  }
  function eventItem(e) {
    return el(
      "li",
      { "data-event-id": e.event_id },
      badge(e.status),
      el("div", {},
        el("a", { href: alertUrl(e.fingerprint), text: e.topic }),
        el("div", { class: "muted small", text: `${when(e.emitted_at)} · ${e.rule} · ${e.figures.negative || 0}/${e.figures.count || 0} negative (${pct(e.figures.negative_share)})` })),
    );
  }
  function empty(text) { return el("p", { class: "empty", text }); }
  function emptyItem(text) { return el("li", { class: "empty-row" }, empty(text)); }

  // ---- overview ---------------------------------------------------------------------------
  async function overview() {
    const windowChoice = $("#window").value;
    const [topics, firing, recent, entities] = await Promise.all([
      api(`/v1/topics?window=${encodeURIComponent(windowChoice)}`),
      api("/v1/alerts?state=firing&firing_now=true&limit=20"),
      api("/v1/alerts?limit=12"),
      api("/v1/entities/top?window=24h&by=negative&limit=10"),
    ]);
    setClock(topics);
    const firingBox = $("#firing");
    const shown = new Set();
    const cards = firing.items.filter((e) => !shown.has(e.fingerprint) && shown.add(e.fingerprint)).map((e) =>
      el("a", { class: "alert-card", href: alertUrl(e.fingerprint), "data-fingerprint": e.fingerprint },
        el("div", { class: "what" }, badge("firing"), " ", badge(e.severity), ` ${e.topic}`),
        el("div", { class: "muted", text: `${e.rule} · since ${when(e.started_at)}` }),
        el("div", { class: "figs", text: `${e.figures.negative || 0}/${e.figures.count || 0} negative (${pct(e.figures.negative_share)}) vs ${pct(e.figures.baseline_negative_share)} baseline` }),
      ));
    firingBox.replaceChildren(...(cards.length ? cards : [empty("No alert is firing.")]));

    const rows = [...topics.topics].sort((a, b) => rank(b) - rank(a) || b.window.count - a.window.count);
    const tbody = $("#topics tbody");
    const sparks = [];
    tbody.replaceChildren(...rows.map((t, i) => {
      const open = t.alerts.find((a) => a.status === "firing") || t.alerts[0];
      const state = open ? el("a", { href: alertUrl(open.fingerprint) }, badge(open.status)) : badge("ok", "ok");
      const spark = el("div", { class: "spark" });
      sparks.push([`spark-${i}`, t.sparkline, spark]);
      return el("tr", { "data-topic": t.topic },
        el("td", {}, el("a", { href: topicUrl(t.topic), text: t.topic })),
        el("td", {}, state),
        el("td", { class: "num", text: t.window.count }),
        el("td", { class: "num" }, pct(t.window.negative_share), " ", delta(t.window.negative_share, t.baseline.negative_share, "pct")),
        el("td", { class: "num muted", text: `${pct(t.baseline.negative_share)} of ${t.baseline.count}` }),
        el("td", { class: "num", title: `baseline ${score(t.baseline.mean_score)}` }, score(t.window.mean_score), " ", delta(t.window.mean_score, t.baseline.mean_score)),
        el("td", {}, spark));
    }));
    if (!rows.length) tbody.replaceChildren(el("tr", {}, el("td", { colspan: 7 }, empty("No article stored yet."))));
    for (const [key, points, target] of sparks) sparkline(key, points, target);

    $("#entities tbody").replaceChildren(...(entities.entities.length ? entities.entities.map((e) =>
      el("tr", {},
        el("td", {}, entityChips([e]), e.ticker ? el("span", { class: "muted", text: ` ${e.text}` }) : null),
        el("td", { class: "num", text: e.count }),
        el("td", { class: "num", text: pct(e.negative_share) }),
        el("td", { class: "num", text: score(e.mean_score) }),
        el("td", { class: "num" }, delta(e.mean_score, e.baseline_mean_score)),
      )) : [el("tr", {}, el("td", { colspan: 5 }, empty("Not enough mentions yet.")))]));

    $("#recent").replaceChildren(...(recent.items.length ? recent.items.map(eventItem) : [emptyItem("No alert event yet.")]));
  }
  function rank(t) {
    if (t.alerts.some((a) => a.status === "firing")) return 2;
    return t.alerts.length ? 1 : 0;
  }

  // ---- topic page -------------------------------------------------------------------------
  const topic = body.dataset.topic;
  let articlesCursor = null;
  let extraPages = 0;

  function timelineChart(data, target) {
    const size = { "5m": 300, "1h": 3600, "1d": 86400 }[data.bucket];
    const xs = data.buckets.map((b) => epoch(b.start) + size / 2);
    const neg = data.buckets.map((b) => b.negative);
    const negNeu = data.buckets.map((b) => b.negative + b.neutral);
    const all = data.buckets.map((b) => b.count);
    const share = data.buckets.map((b) => b.negative_share);
    const raw = [null, all.map((_, i) => data.buckets[i].positive), negNeu.map((_, i) => data.buckets[i].neutral), neg, share];
    const bars = uPlot.paths.bars({ size: [0.85, 60], align: 0 });
    const legendCount = (u, v, si, i) => (i === null || i === undefined ? "–" : raw[si][i]);
    const markers = {
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx;
          ctx.save();
          for (const e of data.alerts) {
            const x = Math.round(u.valToPos(epoch(e.emitted_at), "x", true));
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
            ctx.strokeStyle = e.status === "firing" ? COLORS.negative : COLORS.resolved;
            ctx.lineWidth = 2 * devicePixelRatio;
            ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.setLineDash([]);
            ctx.fillStyle = ctx.strokeStyle;
            ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
            ctx.fillText(e.status === "firing" ? "▼ fired" : "▼ resolved", x + 4 * devicePixelRatio, u.bbox.top + 12 * devicePixelRatio);
          }
          ctx.restore();
        }],
      },
    };
    const width = Math.max(target.clientWidth, 400);
    const options = {
      width, height: 300, plugins: [markers], tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max, 1) * 1.1] }, share: { range: [0, 1] } },
      axes: [
        { stroke: "#6b7686", grid: { stroke: "#eef1f5" }, values: (u, splits) => splits.map((v) => utcLabel(v, data.bucket)) },
        { label: "articles", stroke: "#6b7686", grid: { stroke: "#eef1f5" }, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] },
        { scale: "share", side: 1, label: "negative share", stroke: "#6b7686", grid: { show: false }, values: (u, vals) => vals.map((v) => `${Math.round(v * 100)}%`) },
      ],
      series: [
        { value: (u, v) => (v ? new Date((v - size / 2) * 1000).toISOString().slice(0, 16).replace("T", " ") : "–") },
        { label: "positive", fill: COLORS.positive, stroke: COLORS.positive, width: 0, paths: bars, points: { show: false }, value: legendCount },
        { label: "neutral", fill: COLORS.neutral, stroke: COLORS.neutral, width: 0, paths: bars, points: { show: false }, value: legendCount },
        { label: "negative", fill: COLORS.negative, stroke: COLORS.negative, width: 0, paths: bars, points: { show: false }, value: legendCount },
        { label: "negative share", scale: "share", stroke: COLORS.line, width: 2, spanGaps: false, points: { show: true, size: 6, fill: COLORS.line }, value: (u, v) => pct(v) },
      ],
    };
    return chart("timeline", options, [xs, all, negNeu, neg, share], target);
  }

  function utcLabel(seconds, bucket) {
    const iso = new Date(seconds * 1000).toISOString();
    if (bucket === "1d") return iso.slice(0, 10);
    return iso.slice(11, 16) === "00:00" ? iso.slice(5, 10) : iso.slice(11, 16);
  }

  async function topicTimeline() {
    const [bucket, span] = $("#range").value.split("|");
    const hours = { "6h": 6, "12h": 12, "48h": 48, "7d": 168, "90d": 2160 }[span];
    const meta = await api(`/v1/topics?window=1h`);
    const end = meta.as_of;
    const start = new Date(Date.parse(end) - hours * 3600 * 1000).toISOString();
    const data = await api(`/v1/topics/${encodeURIComponent(topic)}/timeline?bucket=${bucket}&from=${encodeURIComponent(start)}&to=${encodeURIComponent(end)}`);
    setClock(data);
    const counts = data.buckets.reduce((s, b) => ({ n: s.n + b.count, neg: s.neg + b.negative }), { n: 0, neg: 0 });
    const self = meta.topics.find((t) => t.topic === topic);
    $("#summary").replaceChildren(
      figure(counts.n, `articles in the last ${span}`),
      figure(pct(counts.n ? counts.neg / counts.n : null), "negative in that range"),
      figure(self ? pct(self.window.negative_share) : "–", "negative, last hour"),
      figure(self ? pct(self.baseline.negative_share) : "–", "negative, 24 h before"),
      figure(data.alerts.filter((e) => e.status === "firing").length, "alert firings in range"),
    );
    const open = self ? self.alerts : [];
    $("#topic-alerts").replaceChildren(...open.map((a) => el("a", { href: alertUrl(a.fingerprint) }, badge(a.status, `${a.status}: ${a.rule}`))));
    timelineChart(data, $("#chart"));
  }
  function figure(value, label) {
    return el("div", { class: "figure" }, el("div", { class: "v", text: value }), el("div", { class: "k", text: label }));
  }

  function articleQuery(cursor) {
    const form = new FormData($("#filters"));
    const query = new URLSearchParams({ topic, limit: "25" });
    for (const name of ["sentiment", "ticker", "q"]) {
      const value = String(form.get(name) || "").trim();
      if (value) query.set(name, value);
    }
    if (cursor) query.set("cursor", cursor);
    return `/v1/articles?${query}`;
  }
  async function topicArticles(append) {
    const data = await api(articleQuery(append ? articlesCursor : null));
    const items = data.items.map(articleItem);
    if (append) $("#articles").append(...items);
    else $("#articles").replaceChildren(...(items.length ? items : [emptyItem("No article matches.")]));
    articlesCursor = data.next_cursor;
    $("#more").hidden = !articlesCursor;
  }
  function topicPage() {
    const refresh = every(async () => {
      await topicTimeline();
      if (!extraPages) await topicArticles(false);
    });
    $("#range").addEventListener("change", refresh);
    $("#filters").addEventListener("submit", (event) => {
      event.preventDefault();
      extraPages = 0;
      topicArticles(false).then(() => setStatus(null), setStatus);
    });
    $("#more").addEventListener("click", () => {
      extraPages += 1;
      topicArticles(true).then(() => setStatus(null), setStatus);
    });
  }

  // ---- alert page -------------------------------------------------------------------------
  let currentAlert = null;
  async function alertPage() {
    const detail = await api(`/v1/alerts/${encodeURIComponent(body.dataset.alert)}`);
    currentAlert = detail;
    const e = detail.event;
    const f = e.figures;
    document.title = `${e.status === "firing" ? "Firing" : "Resolved"}: ${e.topic} · finsent`;
    $("#asof").textContent = `event time ${when(e.emitted_at)} UTC · model ${e.model_version || "?"}`;
    $("#alert-title").replaceChildren(el("a", { href: topicUrl(e.topic), text: e.topic }), ` · ${e.rule}`);
    $("#alert-badges").replaceChildren(
      badge(e.status, `event: ${e.status}`), " ",
      badge(e.alert_status === "firing" ? "firing" : e.alert_status === "pending" ? "pending" : "ok", `now: ${e.alert_status || "unknown"}`), " ",
      badge(e.severity),
    );
    $("#explanation").textContent = detail.explanation;
    $("#alert-figures").replaceChildren(
      figure(`${hhmm(e.window_start)}–${hhmm(e.window_end)}`, `window (${e.window_start.slice(0, 10)})`),
      figure(`${f.negative || 0}/${f.count || 0}`, "negative / articles"),
      figure(pct(f.negative_share), "negative share"),
      figure(pct(f.baseline_negative_share), `baseline (${f.baseline_count || 0} articles)`),
      figure(score(f.mean_score), `mean score (baseline ${score(f.baseline_mean_score)})`),
      figure(f.z === undefined ? "–" : f.z.toFixed(2), "z"),
      figure(f.p_value === undefined ? "–" : f.p_value.toPrecision(2), "p"),
    );
    $("#evidence-title").textContent = `Articles recorded when it fired (${detail.evidence_count})`;
    $("#evidence").replaceChildren(...(detail.evidence.length ? detail.evidence.map(articleItem) : [emptyItem("No article was recorded for this event.")]));
    const byEvent = new Map(detail.history.map((h) => [h.event_id, h]));
    $("#deliveries tbody").replaceChildren(...(detail.deliveries.length ? detail.deliveries.map((d) => {
      const ev = byEvent.get(d.event_id);
      const answer = d.last_status_code ? `HTTP ${d.last_status_code}` : d.last_error || (d.status === "pending" ? "not sent yet" : "–");
      const at = d.delivered_at ? ` at ${hhmm(d.delivered_at)}` : "";
      return el("tr", {},
        el("td", {}, ev ? badge(ev.status) : "–"),
        el("td", { title: d.host, text: d.receiver }),
        el("td", {}, badge(d.status === "delivered" ? "resolved" : d.status === "failed" ? "firing" : "pending", d.status)),
        el("td", { class: "num", text: d.attempts }),
        el("td", { class: "muted", title: d.delivered_at ? `delivered ${when(d.delivered_at)} UTC` : "", text: `${answer}${at}` }));
    }) : [el("tr", {}, el("td", { colspan: 5 }, empty("No webhook for this alert.")))]));
    $("#history").replaceChildren(...detail.history.map(eventItem));
    const admin = body.dataset.admin === "true";
    $("#silences").replaceChildren(...(detail.silences.length ? detail.silences.map((s) =>
      el("div", { class: "silence", "data-silence-id": s.id },
        el("span", { text: `Silenced until ${when(s.ends_at)} UTC by ${s.created_by}${s.comment ? ` — ${s.comment}` : ""}` }),
        admin ? el("button", { type: "button", onclick: () => expire(s.id) }, "Expire") : null)) : [empty("Not silenced.")]));
  }
  async function silence(event) {
    event.preventDefault();
    const form = new FormData(event.target);
    const e = currentAlert.event;
    const matchers = { rule: e.rule, topic: e.topic };
    if (e.labels.ticker) matchers.ticker = e.labels.ticker;
    const button = $("#silence-button");
    button.disabled = true;
    try {
      await api("/v1/silences", { method: "POST", json: { matchers, duration: form.get("duration"), comment: String(form.get("comment") || "") } });
      await alertPage();
      setStatus(null);
    } catch (error) {
      setStatus(error);
    } finally {
      button.disabled = false;
    }
  }
  async function expire(id) {
    try {
      await api(`/v1/silences/${id}`, { method: "DELETE" });
      await alertPage();
      setStatus(null);
    } catch (error) {
      setStatus(error);
    }
  }

  // ---- start ------------------------------------------------------------------------------
  if (page === "overview") {
    const refresh = every(overview);
    $("#window").addEventListener("change", refresh);
  } else if (page === "topic") {
    topicPage();
  } else if (page === "alert") {
    every(alertPage);
    const form = $("#silence-form");
    if (form) form.addEventListener("submit", silence);
  }
})();
