"use strict";
// What the page shows: the server's banners, the mode choices, the progress bar, the last run's summary,
// the results table, the chart, the ratios and the latency histogram. Drawn from results and the mode
// registry, never from a transport's name, so a new transport needs nothing here.
(() => {
  const { PERCENTILES, BINS_PER_DECADE, LATENCY_FLOOR_MS, latencyDetails, certificateAddresses, tlsBase, modes, modeOf,
          browserName, http3Advice, unsupported } = wsbench;

  const STORES = { mysql: "MySQL", sqlite: "SQLite" };
  const COMMITS = { group: ", group commit", "per-message": ", one INSERT + COMMIT per number (the original demo's way)" };
  const $ = (id) => document.getElementById(id);
  const els = Object.fromEntries(["form", "server", "n", "nhttp", "mode", "run", "compare", "cancel", "tls-note", "unsupported", "not-run",
    "notice", "store", "status", "progress-box", "progress", "progress-text", "message", "summary", "rows", "results", "comparison",
    "chart", "ratios", "latency", "latency-mode", "latency-caption", "latency-chart", "downloads", "download",
    "history-section", "history-note", "history", "clear-history"].map((id) => [id.replaceAll("-", "_"), $(id)]));
  // Fixed locale so automation sees the same "10,000" everywhere.
  const intFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const msFormat = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const ratioFormats = [1, 2].map((d) => new Intl.NumberFormat("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
  const tickFormat = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 2 });
  const fmt = (format, value) => (value == null ? "—" : format.format(value));

  function show(el, text, className = el.className) {
    el.textContent = text;
    el.className = className;
    el.hidden = !text;
  }

  // The same fields arrive from GET /info and in the hello frame. The server's notice gets a
  // warning banner; the null store's own warning is one only when no notice already warns.
  function showServer(info) {
    const commit = COMMITS[info.commit] ?? "";
    show(els.notice, info.notice ? String(info.notice) : "");
    if (info.store === "null") {
      return show(els.store, `The server runs with --db null: — NOTHING IS STORED; acks mean received, not committed${commit}. ` +
        "This measures the transport alone.", info.notice ? "banner" : "banner warn");
    }
    const meaning = info.durable === false ? "an ack means received, not durably stored" : "an ack means committed";
    show(els.store, `Server: ${STORES[info.store] ?? info.store} ${info.target ?? ""}${commit} — ${meaning}.`, "banner");
  }

  // The mode choices `ids`, keeping `chosen` when it is among them.
  function showModes(ids, chosen) {
    els.mode.replaceChildren(...ids.map((id) => new Option(modes.get(id).label, id)));
    els.mode.value = ids.includes(chosen) ? chosen : ids[0];
  }

  // The modes this browser cannot run, and what it lacks for each: they are not among the choices.
  function showUnsupported() {
    const lacking = [...modes.values()].filter(unsupported).map((mode) => `${mode.label} (${unsupported(mode)})`);
    show(els.unsupported, lacking.length ? `Not supported by ${browserName()}: ${lacking.join("; ")}.` : "");
  }

  // Talking to a TLS server (its /info says so, or the server URL is wss://): where to accept its certificate.
  function showTlsNote(server, info) {
    const tls = info ? info.tls === true : tlsBase(server) !== null;
    els.tls_note.hidden = !tls;
    if (!tls) return els.tls_note.replaceChildren();
    const links = certificateAddresses(server, info).map((href) => Object.assign(document.createElement("a"), { href, target: "_blank", textContent: href }));
    const parts = links.flatMap((link, i) => [i === 0 ? "" : i === links.length - 1 ? " and " : ", ", link]);
    els.tls_note.replaceChildren("TLS server. If the browser does not trust its certificate yet (a self-signed one from --tls), open ",
      ...parts, links.length > 1 ? " once each and accept the warning." : " once and accept the warning.");
    // WebTransport pins the certificate's hash and needs none of this; HTTP/3 fetches do.
    if (Number.isInteger(info?.h3_port)) els.tls_note.append(` For the HTTP/3 modes: ${http3Advice(new URL(server).host, info)}`);
  }

  // After a compare run: the modes it did not run here, each with why (and how to run it, where it can).
  function showNotRun(results) {
    els.not_run.replaceChildren(...results.filter((r) => r.not_run)
      .map((r) => Object.assign(document.createElement("li"), { textContent: `${modeOf(r).label}: ${r.not_run}` })));
    els.not_run.hidden = !els.not_run.children.length;
  }

  // "resent 5 requests" (a mode whose numbers are requests) or "reconnected 2 times"; nothing when there were none.
  function retriesText({ perRequest }, k) {
    const times = (word) => `${fmt(intFormat, k)} ${word}${k === 1 ? "" : "s"}`;
    return !k ? "" : perRequest ? `resent ${times("request")}` : `reconnected ${times("time")}`;
  }

  // Update the progress bar and its "k of N" text once per frame, never per message.
  function watchProgress(progress, n, mode) {
    const update = () => {
      const done = progress.acked + progress.errors;
      const retries = retriesText(mode, progress.reconnects);
      els.progress.value = done;
      els.progress_text.textContent = `${mode.label}: ${fmt(intFormat, done)} of ${fmt(intFormat, n)}${retries && " · " + retries}`;
    };
    els.progress.max = n;
    els.progress_box.hidden = false;
    let frame = 0;
    const tick = () => { update(); frame = requestAnimationFrame(tick); };
    frame = requestAnimationFrame(tick);
    return () => { cancelAnimationFrame(frame); update(); };
  }

  const rate = (r) => (r.elapsed_ms > 0 ? r.n / (r.elapsed_ms / 1000) : null);
  // "h2 (TLS)", "websocket", "http/1.1"; "—" when not known (a failed run, an old history entry).
  const protocolText = ({ protocol, tls }) => (protocol ? protocol + (tls ? " (TLS)" : "") : "—");
  const storeName = (r) => STORES[r.store] ?? "the store";

  function rowsLine(r) {
    if (r.verify_error) return [`Could not verify rows: ${r.verify_error}`, "error"];
    if (r.store === "null") return ["nothing stored (null store)", ""];
    if (r.rows_verified !== r.acked) {
      return [`Mismatch: ${fmt(intFormat, r.acked)} numbers acked, but ${fmt(intFormat, r.rows_verified)} rows committed in ${storeName(r)}`, "error"];
    }
    return [`${fmt(intFormat, r.rows_verified)} rows committed in ${storeName(r)}`, ""];
  }

  // The summary lines under the progress bar: the run that just ended.
  function renderLast(r) {
    if (r.error) return; // publish() shows it
    const mode = modeOf(r), label = mode.label;
    const lastError = r.errors && r.last_error ? ` (last: ${r.last_error})` : "";
    const retries = retriesText(mode, r.reconnects);
    const { p50, p99 } = r.latency_ms, latency = p50 == null ? "" : ` · ack latency p50 ${fmt(msFormat, p50)} ms, p99 ${fmt(msFormat, p99)} ms`;
    show(els.summary, `${label}: ${fmt(intFormat, r.n)} numbers in ${fmt(msFormat, r.elapsed_ms)} ms = ${fmt(intFormat, rate(r))} numbers/s · ` +
      `over ${protocolText(r)} · ` +
      `${fmt(intFormat, r.acked)} acked · ${fmt(intFormat, r.errors)} errors${lastError}${retries && " · " + retries}${latency}`);
    const [text, className] = rowsLine(r);
    show(els.rows, `${label}: ${text}`, className);
  }

  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b), mid = s.length >> 1;
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  };
  const range = (xs, format) => (Math.min(...xs) === Math.max(...xs) ? fmt(format, xs[0])
    : `${fmt(format, Math.min(...xs))}..${fmt(format, Math.max(...xs))}`);
  const medianRange = (xs, format) => fmt(format, median(xs)) + (xs.length > 1 ? ` (${range(xs, format)})` : "");

  // Per mode: completed runs give the timings (per number, as N may differ); the last run gives the counts.
  function modeStats(id, runs) {
    const ok = runs.filter((r) => !r.error && r.elapsed_ms > 0);
    const ms = ok.map((r) => r.elapsed_ms);
    const { label, transport } = modes.get(id);
    return { id, label, transport, runs: ok.length, last: runs.at(-1),
             n: ok.length ? range(ok.map((r) => r.n), intFormat) : "—",
             elapsed: ok.length ? medianRange(ms, msFormat) : "—",
             perK: ok.length ? median(ok.map((r) => r.elapsed_ms / r.n * 1000)) : null,
             rate: ok.length ? median(ok.map(rate)) : null };
  }

  function renderTable(stats) {
    const body = els.results.tBodies[0];
    body.replaceChildren();
    for (const s of stats) {
      const r = s.last;
      const rows = r.error ? "—" : r.store === "null" ? "not stored" : fmt(intFormat, r.rows_verified);
      const tr = body.insertRow();
      if (r.not_run) tr.title = r.not_run;
      for (const text of [s.label, r.not_run ? "not run" : protocolText(r), s.runs, s.n, s.elapsed, fmt(msFormat, s.perK), fmt(intFormat, s.rate),
                          `${fmt(intFormat, r.acked)} / ${fmt(intFormat, r.errors)}`, rows]) {
        tr.insertCell().textContent = text;
      }
      // Red: a failed or lossy last run, and rows that do not match the acks; a mode not run is not a failure.
      if (r.not_run) continue;
      if (r.error || r.errors) tr.cells[7].className = "error";
      if (r.error || rowsLine(r)[1]) tr.cells[8].className = "error";
    }
    els.results.hidden = !stats.length;
  }

  function svg(name, attrs, text) {
    const el = document.createElementNS("http://www.w3.org/2000/svg", name);
    for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
    if (text != null) el.textContent = text;
    return el;
  }

  // Horizontal bars, one per mode, median numbers/s on a linear scale from zero.
  function drawChart(stats) {
    const width = 640, labelW = 210, valueW = 110, rowH = 32;
    const max = Math.max(...stats.map((s) => s.rate));
    const chart = svg("svg", { viewBox: `0 0 ${width} ${stats.length * rowH}`, role: "img" });
    chart.append(svg("title", {}, "Median numbers per second by mode"));
    stats.forEach((s, i) => {
      const y = i * rowH, w = Math.max(1, (width - labelW - valueW) * s.rate / max);
      chart.append(svg("text", { x: labelW - 8, y: y + 20, "text-anchor": "end" }, s.label),
                   svg("rect", { x: labelW, y: y + 5, width: w, height: rowH - 10, rx: 3, class: s.transport }),
                   svg("text", { x: labelW + w + 6, y: y + 20 }, `${fmt(intFormat, s.rate)} /s`));
    });
    els.chart.replaceChildren(chart);
  }

  // Ratios of median numbers/s, so modes run with different N compare fairly.
  function ratioLines(stats) {
    const fastest = stats.reduce((a, b) => (b.rate > a.rate ? b : a));
    return stats.filter((s) => s !== fastest).map((s) => {
      const ratio = fastest.rate / s.rate;
      return `${fastest.label} is ${ratioFormats[ratio < 10 ? 1 : 0].format(ratio)}x faster than ${s.label}`;
    });
  }

  // runsByMode: mode id -> every attempted run's result.
  function renderComparison(runsByMode) {
    const stats = [...runsByMode].map(([id, runs]) => modeStats(id, runs));
    renderTable(stats);
    const rated = stats.filter((s) => s.rate > 0);
    els.comparison.hidden = !rated.length;
    if (!rated.length) return;
    drawChart(rated);
    els.ratios.replaceChildren(...ratioLines(rated).map((line) => Object.assign(document.createElement("li"), { textContent: line })));
  }

  // A round step for an axis: 1, 2 or 5 times a power of ten, at least `raw`.
  const niceStep = (raw) => [1, 2, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(Math.max(raw, 1)))).find((s) => s >= raw);

  // One run's ack latencies: a bar per bucket on a log scale of whole decades (latencies spread over
  // orders of magnitude), counts on a linear scale, dashed lines at p50, p95 and p99.
  function drawLatency(r) {
    const { first, counts } = latencyDetails.get(r.run), l = r.latency_ms, mode = modeOf(r);
    const width = 640, height = 260, left = 58, right = 24, top = 46, base = height - 42, plotW = width - left - right;
    const lo = Math.floor(first / BINS_PER_DECADE), hi = Math.max(lo + 1, Math.ceil((first + counts.length) / BINS_PER_DECADE));
    const xBin = (k) => left + plotW * (k / BINS_PER_DECADE - lo) / (hi - lo);
    const x = (ms) => xBin(Math.log10(Math.max(ms, LATENCY_FLOOR_MS)) * BINS_PER_DECADE);
    const most = Math.max(...counts), step = niceStep(most / 4), yMax = Math.ceil(most / step) * step;
    const y = (count) => base - (base - top) * count / yMax;
    const small = (attrs, text) => svg("text", { ...attrs, class: "small" }, text);
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
    chart.append(svg("title", {}, `Ack latency histogram, ${mode.label}`));
    for (let c = 0; c <= yMax; c += step) {
      chart.append(svg("line", { x1: left, x2: width - right, y1: y(c), y2: y(c), class: c ? "grid" : "" }),
                   small({ x: left - 6, y: y(c) + 4, "text-anchor": "end" }, fmt(intFormat, c)));
    }
    counts.forEach((count, i) => {
      if (!count) return;
      const k = first + i, x0 = xBin(k), [from, to] = [k, k + 1].map((b) => tickFormat.format(10 ** (b / BINS_PER_DECADE)));
      const bar = svg("rect", { x: x0 + 0.5, y: y(count), width: Math.max(1, xBin(k + 1) - x0 - 1), height: base - y(count), class: r.transport });
      bar.append(svg("title", {}, `${from}–${to} ms: ${fmt(intFormat, count)} numbers`));
      chart.append(bar);
    });
    for (let d = lo; d <= hi; d++) { // ticks at 1, 2 and 5 per decade; with many decades at the powers of ten only
      for (const ms of (hi - lo > 4 || d === hi ? [1] : [1, 2, 5]).map((m) => m * 10 ** d)) {
        chart.append(svg("line", { x1: x(ms), x2: x(ms), y1: base, y2: base + 4 }),
                     small({ x: x(ms), y: base + 16, "text-anchor": "middle" }, tickFormat.format(ms)));
      }
    }
    PERCENTILES.forEach((p, i) => { // a label row each, so that close percentiles do not overlap
      const mx = x(l[`p${p}`]), ty = 12 + i * 13, flip = mx > width - 110;
      chart.append(svg("line", { x1: mx, x2: mx, y1: ty + 3, y2: base, class: "mark" }),
                   small({ x: mx + (flip ? -4 : 4), y: ty, "text-anchor": flip ? "end" : "start" }, `p${p} ${fmt(msFormat, l[`p${p}`])} ms`));
    });
    chart.append(svg("text", { x: left + plotW / 2, y: height - 4, "text-anchor": "middle" }, "ack latency, ms (log scale)"),
                 svg("text", { transform: `translate(14 ${(top + base) / 2}) rotate(-90)`, "text-anchor": "middle" }, "numbers"));
    els.latency_chart.replaceChildren(chart);
    els.latency_caption.textContent = `${fmt(intFormat, counts.reduce((a, b) => a + b))} numbers, ` +
      (mode.perRequest ? "each from its request's start to the answer" : "each from its send to the ack that covers it") +
      `: p50 ${fmt(msFormat, l.p50)} ms · p95 ${fmt(msFormat, l.p95)} ms · p99 ${fmt(msFormat, l.p99)} ms · max ${fmt(msFormat, l.max)} ms.`;
  }

  // The histogram of the chosen mode's last run with latencies; after a run, of the mode just run.
  // sessionRuns: { result } of every run on this page, in order.
  function renderLatency(sessionRuns, preferred = els.latency_mode.value) {
    const lastOf = (id) => sessionRuns.findLast(({ result: r }) => `${r.transport}/${r.mode}` === id && latencyDetails.has(r.run))?.result;
    const ids = [...modes.keys()].filter(lastOf), shown = els.latency_mode.value;
    els.latency.hidden = !ids.length;
    if (!ids.length) return;
    els.latency_mode.replaceChildren(...ids.map((id) => new Option(modes.get(id).label, id)));
    els.latency_mode.value = ids.includes(preferred) ? preferred : ids.includes(shown) ? shown : ids[0];
    drawLatency(lastOf(els.latency_mode.value));
  }

  Object.assign(wsbench, { els, intFormat, msFormat, fmt, show, showServer, showModes, showUnsupported, showTlsNote, showNotRun, watchProgress,
                           rate, protocolText, renderLast, renderComparison, renderLatency });
})();
