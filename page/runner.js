"use strict";
// The page: read its inputs and URL, run the registered modes one after another, keep this session's
// results (for the table, the chart and the download) and publish window.benchmarkResult. Loaded last.
(() => {
  const { BINS_PER_DECADE, latencyDetails, round3, newResult, getJson, httpBase, modes, modeOf, refusal, unsupported,
          browserName, offeredModes, els,
          show, showServer, showModes, showUnsupported, showTlsNote, showNotRun, watchProgress, renderLast, renderComparison, renderLatency,
          showHistory, clearHistory, rememberRun } = wsbench;

  const CANCELLED = "Cancelled by the user";
  const runsByMode = new Map(); // mode id -> every attempted run's result, for the table and the chart
  const sessionRuns = []; // { date, server, result } of every run on this page, in order, for the download
  let serverInfo = null; // the last GET /info answer, for the download
  let current = null; // the AbortController of the run in progress
  let chosenMode = "websocket/pipelined"; // the user's (or ?mode=) choice, kept while the offered modes change

  function parseN(text, name = "N") {
    const s = String(text ?? "").trim();
    const n = Number(s);
    if (!/^\d+$/.test(s) || n < 1 || n > 1000000) {
      throw new Error(`${name} must be a whole number from 1 to 1,000,000 (got "${s}")`);
    }
    return n;
  }

  // N for most modes, and for per-request (HTTP) modes in a compare run (default min(N, 1000)).
  function readNs() {
    const n = parseN(els.n.value);
    const nhttp = els.nhttp.value.trim() ? parseN(els.nhttp.value, "N for HTTP modes") : Math.min(n, 1000);
    return { n, nhttp };
  }

  // The mode choices this browser and server offer, keeping the chosen one when it is among them.
  const renderModes = (info) => showModes(offeredModes(info), chosenMode);

  // Not fatal: WebSocket modes learn the same from the hello frame; HTTP modes report infoError.
  async function loadInfo(server, signal) {
    try {
      const info = await getJson(httpBase(server) + "/info", signal); // store, commit, ports, notice
      serverInfo = info;
      showServer(info);
      renderModes(info);
      showTlsNote(server, info);
      return { info, infoError: null };
    } catch (e) {
      if (signal?.aborted) throw e;
      show(els.notice, "");
      show(els.store, `No server information: ${e.message}`, "banner muted");
      renderModes(null);
      showTlsNote(server, null);
      return { info: null, infoError: e.message };
    }
  }

  // This page's runs as one JSON file: each with its percentiles and histogram (and, for small runs,
  // every latency in send order), and where they came from.
  function downloadResults() {
    const runs = sessionRuns.map(({ date, server, result }) => {
      const detail = latencyDetails.get(result.run);
      const edges = detail?.counts.concat(0).map((_, i) => Number((10 ** ((detail.first + i) / BINS_PER_DECADE)).toPrecision(4)));
      return { ...result, date, server, latency_histogram: detail ? { edges_ms: edges, counts: detail.counts } : null,
               latency_samples_ms: detail?.samples ? Array.from(detail.samples, round3) : null };
    });
    const now = new Date().toISOString();
    const report = { created: now, page: location.href, user_agent: navigator.userAgent, server_info: serverInfo, runs };
    const url = URL.createObjectURL(new Blob([JSON.stringify(report)], { type: "application/json" }));
    const name = `wsbench-results-${now.slice(0, 19).replaceAll(":", "-")}.json`; // no ":" in a file name on Windows
    const link = Object.assign(document.createElement("a"), { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000); // the download reads the blob after click() returns
  }

  // Run one mode with a progress bar; always resolves to a result (with `error` on failure).
  async function runMode(id, options) {
    const mode = modes.get(id);
    const progress = { acked: 0, errors: 0, reconnects: 0 };
    const stopProgress = watchProgress(progress, options.n, mode);
    let result;
    const lacking = unsupported(mode);
    if (lacking) { // reported as such, with why: not a failure of the server or the network
      const message = `not supported by ${browserName()}: ${lacking}`;
      result = { ...newResult(mode.transport, mode.mode, options.n, options.info), unsupported: message, not_run: message, error: message };
    } else {
      try {
        const refused = refusal(mode, options.info);
        if (refused) throw new Error(refused);
        result = await mode.run({ ...options, progress, onStatus: (text) => show(els.status, `${mode.label}: ${text}`), onHello: showServer });
      } catch (e) {
        result = { ...(e.result ?? newResult(mode.transport, mode.mode, options.n, options.info)), error: e.message };
        if (e.notRun) result.not_run = `not run: ${e.message}`;
      }
    }
    stopProgress();
    runsByMode.set(id, [...(runsByMode.get(id) ?? []), result]);
    const date = new Date().toISOString();
    sessionRuns.push({ date, server: options.server, result });
    renderLast(result);
    renderComparison(runsByMode);
    renderLatency(sessionRuns, id);
    els.downloads.hidden = false;
    rememberRun(result, date, options.server);
    return result;
  }

  function setRunning(running) {
    els.run.disabled = els.compare.disabled = running;
    els.cancel.disabled = !running;
    if (running) document.body.dataset.state = "running";
  }

  // Publish the result first, then the state: automation waits on the state.
  function publish(value, error) {
    window.benchmarkResult = value;
    if (error) show(els.message, error);
    show(els.status, error ? "Failed." : "Done.");
    document.body.dataset.state = error ? "error" : "done";
  }

  // A run that could not start (bad N): the result of its first mode, an array for a compare.
  function failEarly(ids, compare, message) {
    const mode = modes.get(ids[0]);
    const result = { transport: mode.transport, mode: mode.mode, protocol: null, tls: null, n: null, error: message };
    publish(compare ? [result] : result, message);
  }

  // Run the given modes in order, stopping at the first failure. A compare run gives per-request modes
  // their own N and publishes an array; a single run publishes its one result.
  async function startRuns(ids, compare = false) {
    window.benchmarkResult = undefined;
    for (const el of [els.message, els.summary, els.rows]) show(el, "");
    showNotRun([]);
    let ns;
    try { ns = readNs(); } catch (e) { return failEarly(ids, compare, e.message); }
    setRunning(true);
    const controller = current = new AbortController();
    const server = els.server.value.trim();
    // Cancelled while fetching /info: the first mode sees the aborted signal and fails with it.
    const known = await loadInfo(server, controller.signal).catch(() => ({ info: null }));
    // A compare run: every mode the server offers (with TLS, HTTP/2 and HTTP/3 too), those this browser
    // lacks or is not set up for reported as not run while the others run; a single run: as asked.
    if (compare) ids = ids.filter((id) => modes.get(id).offered(known.info) === true);
    const results = [];
    for (const id of ids) {
      const n = compare && modes.get(id).perRequest ? ns.nhttp : ns.n;
      results.push(await runMode(id, { server, n, signal: controller.signal, ...known }));
      if (results.at(-1).error && !(compare && results.at(-1).not_run)) break;
    }
    current = null;
    setRunning(false);
    // The message names the failed mode, except for a cancel: the user knows what they cancelled.
    const failed = results.find((r) => r.error && !(compare && r.not_run));
    const label = failed && modeOf(failed).label;
    if (compare) showNotRun(results);
    publish(compare ? results : results[0], failed && (failed.error === CANCELLED ? CANCELLED : `${label}: ${failed.error}`));
  }

  // Opened from disk: the default port. Served over HTTP, by either port: ask that port for /info.
  async function discoverServer() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    if (location.protocol !== "http:" && location.protocol !== "https:") return "ws://127.0.0.1:8765";
    try {
      const info = await getJson(location.origin + "/info");
      if (Number.isInteger(info.ws_port)) return scheme + location.hostname + ":" + info.ws_port;
    } catch { /* an older server without /info: it serves the page from its WebSocket port */ }
    return scheme + location.host;
  }

  async function init() {
    const params = new URLSearchParams(location.search);
    showUnsupported();
    renderModes(null); // the HTTP/2 modes join once /info says the server has TLS
    els.mode.addEventListener("change", () => { chosenMode = els.mode.value; });
    els.form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!current) startRuns([els.mode.value]);
    });
    els.compare.addEventListener("click", () => { if (!current) startRuns([...modes.keys()], true); });
    els.cancel.addEventListener("click", () => current?.abort(new Error(CANCELLED)));
    els.server.addEventListener("change", () => { if (!current) loadInfo(els.server.value.trim()); });
    els.latency_mode.addEventListener("change", () => renderLatency(sessionRuns));
    els.download.addEventListener("click", downloadResults);
    els.clear_history.addEventListener("click", clearHistory);
    showHistory();

    const autorun = params.get("autorun");
    const compare = autorun === "compare";
    const modeId = params.get("mode") ?? "websocket/pipelined";
    if (!modes.has(modeId)) {
      return publish({ transport: null, mode: null, protocol: null, tls: null, n: null, error: `Unknown mode "${modeId}"` },
                     `Unknown mode "${modeId}"; known: ${[...modes.keys()].join(", ")}`);
    }
    chosenMode = modeId;
    renderModes(null);
    const ids = compare ? [...modes.keys()] : [modeId];
    try {
      if (params.has("n")) els.n.value = parseN(params.get("n"));
      if (params.has("nhttp")) els.nhttp.value = parseN(params.get("nhttp"), "N for HTTP modes");
    } catch (e) {
      return failEarly(ids, compare, e.message);
    }
    els.server.value = params.get("server") ?? await discoverServer();
    if (autorun === "1" || compare) startRuns(ids, compare);
    else loadInfo(els.server.value.trim());
  }

  init();
})();
