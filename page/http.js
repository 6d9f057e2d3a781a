"use strict";
// The fetch transport: one POST per number to the server's port for an HTTP version, one at a time or
// all at once, labelled with the protocol the browser really used. Registers http/*, http2/* and
// http3/*; another HTTP version is one more registerHttp call at the end.
(() => {
  const { RETRY_GIVE_UP_MS, RunError, NotRun, newResult, newLatencies, recordProgress, httpBase, tlsBase, listText,
          certificateProblem, abortMessage, verifyRows, watchStall, retryPolicy, sleep, browserName, isWebKitGtk,
          http3Advice } = wsbench;

  // Chromium fails fetches with ERR_INSUFFICIENT_RESOURCES beyond about 1,200 pending requests. It sends
  // only 6 at a time anyway, so with this many queued the server sees the same load as with all N.
  const MAX_IN_FLIGHT = 1000;
  const HTTP_503_RETRIES = 3; // "not stored" (the database was out of reach): resent this often, then an error
  // Resource Timing entries arrive a little after the answers they time: wait this long for the last ones.
  const TIMING_WAIT_MS = 5000;
  // A browser moves an origin to HTTP/3 after an answer's Alt-Svc (Firefox) or at once (Chromium when
  // told to): this many GETs, this far apart, before the run is declared to have fallen back.
  const H3_PROBES = 10, H3_PROBE_GAP_MS = 100;

  // POST number i as position i of the run (seq: the server stores each (run, seq) once, so a resend is
  // safe). An answer counts as acked (200) or as an error (anything else; a 503 "not stored" is resent
  // HTTP_503_RETRIES times first). No answer at all (network failure) is resent with backoff once the
  // run has had an answer; before that (nothing listens, or the browser refused the answer) it throws.
  async function postNumber(url, i, context) {
    const { signal, progress, result, retryDelay, latencies } = context;
    for (let attempt = 0, unavailable = 0; ; attempt++) {
      let response;
      const start = performance.now(); // this attempt's: a resent number is timed from its last send
      try {
        response = await fetch(url + "&seq=" + i, { method: "POST", body: String(i), headers: { "Content-Type": "text/plain" }, signal });
      } catch (e) {
        if (signal.aborted || !(e instanceof TypeError) || !context.answered) throw e;
        const delay = retryDelay(attempt);
        if (delay === null) throw new Error(`${e.message}; gave up resending after ${RETRY_GIVE_UP_MS / 1000} s without progress`);
        progress.reconnects += 1;
        await sleep(delay, signal);
        continue;
      }
      context.answered = true;
      const body = await response.json().catch(() => null);
      signal.throwIfAborted(); // an abort while reading the body is not an error answer
      if (body !== null) context.answers += 1; // read to its end: the browser has a Resource Timing entry for it
      if (response.status === 200 && Number.isInteger(body?.acked)) {
        progress.acked += body.acked;
        latencies.values[latencies.count++] = performance.now() - start;
        return;
      }
      result.last_error = response.status === 200 ? `HTTP 200 without an acked count: ${JSON.stringify(body)}`
        : `HTTP ${response.status}${body?.error ? ": " + body.error : ""}`;
      const delay = response.status === 503 && unavailable++ < HTTP_503_RETRIES ? retryDelay(attempt) : null;
      if (delay === null) {
        progress.errors += 1;
        return;
      }
      progress.reconnects += 1;
      await sleep(delay, signal);
    }
  }

  // The protocols the browser used for the requests whose URL starts with `prefix`, as Resource Timing
  // reports them (readable cross-origin thanks to the server's Timing-Allow-Origin). An observer sees
  // every entry, even beyond the 250 the timeline buffers; clearing the buffer keeps it from filling.
  // The returned function ends the watch once `answers` requests have their entries (or after
  // TIMING_WAIT_MS, or at once when `wait` is false): { protocols: sorted distinct values, seen }.
  function watchProtocols(prefix) {
    performance.clearResourceTimings();
    const counts = new Map();
    let seen = 0;
    const take = (entries) => {
      for (const entry of entries) {
        if (!entry.name.startsWith(prefix)) continue;
        seen += 1;
        // A request without an answer (a network failure) may get an entry with nothing in it: not a protocol.
        if (entry.nextHopProtocol || entry.responseStart > 0) counts.set(entry.nextHopProtocol, (counts.get(entry.nextHopProtocol) ?? 0) + 1);
      }
    };
    const observer = new PerformanceObserver((list) => take(list.getEntries()));
    observer.observe({ type: "resource" });
    return async (answers, wait) => {
      for (const deadline = performance.now() + TIMING_WAIT_MS; wait && seen < answers && performance.now() < deadline;) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        take(observer.takeRecords());
      }
      take(observer.takeRecords());
      observer.disconnect();
      return { protocols: [...counts.keys()].sort(), seen };
    };
  }

  // Why a run may not be reported as its mode's: the browser used another protocol, several, or did not say.
  function protocolProblem(result, { protocol: expected, name }, { protocols, seen }, answers, url) {
    const used = `${name} mode, but the browser used`;
    if (protocols.length > 1) return `${used} ${listText(protocols)} for the POSTs to ${url} (Resource Timing disagrees within one run)`;
    if (seen < answers) {
      return `${name} mode, but the browser reported the protocol of only ${seen} of ${answers} POSTs to ${url} (Resource Timing)`;
    }
    if (!result.protocol) {
      return `${name} mode, but the browser did not say which protocol it used for POST ${url} ` +
        "(no readable nextHopProtocol in Resource Timing: the server must send Timing-Allow-Origin)";
    }
    return result.protocol === expected ? null : `${used} ${result.protocol} for POST ${url}`;
  }

  // Before the clock: GET /info from the HTTP/3 port until the browser speaks HTTP/3 to it, so the run
  // neither pays for the switch nor mixes protocols. A browser that never does is not set up for HTTP/3
  // to this server (its certificate's root is not one it ships): a NotRun error with the how-to.
  async function switchToHttp3(base, info, signal) {
    let spoke = "nothing";
    for (let probe = 1; probe <= H3_PROBES; probe++) {
      const url = `${base}/info?h3probe=${probe}`;
      // The timeline holds 250 entries and a full one takes no more: an earlier mode's POSTs must not
      // hide this probe's entry (an observer would see it, but getEntriesByName would not).
      performance.clearResourceTimings();
      let response;
      try {
        response = await fetch(url, { signal, cache: "no-store" });
        await response.arrayBuffer();
      } catch (e) {
        if (signal.aborted) throw e;
        throw new Error(`GET ${url} failed (${e.message}) — is the server's HTTP/3 port reachable?`);
      }
      for (let wait = 0; wait < 50 && !performance.getEntriesByName(url).length; wait++) await sleep(10, signal);
      spoke = performance.getEntriesByName(url).at(-1)?.nextHopProtocol || "an unnamed protocol";
      if (spoke === "h3") return;
      await sleep(H3_PROBE_GAP_MS, signal);
    }
    throw new NotRun(`${browserName()} is not set up for HTTP/3 to this self-signed server: it still spoke ${spoke} ` +
      `to ${base} after ${H3_PROBES} requests. ${http3Advice(new URL(base).host, info)}`);
  }

  // One mode of an HTTP version (see registerHttp): its POSTs go to the version's port.
  async function runHttp({ server, n, info, infoError, progress, signal, onStatus = () => {} }, transport, version, concurrent) {
    const result = newResult(transport, concurrent ? "concurrent" : "one-at-a-time", n, info);
    result.tls = tlsBase(server) !== null; // until the POSTs' own URL is known
    if (signal.aborted) throw new RunError(abortMessage(signal), result);
    if (!Number.isInteger(info?.http_port)) {
      const base = info ? null : tlsBase(server);
      throw new RunError((base && await certificateProblem(server, base, null, server)) ??
        (info ? `The server announces no HTTP port (GET /info: ${JSON.stringify(info)})`
          : `Could not connect to ${server} to find its HTTP port — is "python websocket_server.py" running? (${infoError ?? "no /info"})`), result);
    }
    const port = version.port(info);
    const base = httpBase(server, port), url = base + "/numbers?run=" + encodeURIComponent(result.run);
    result.tls = base.startsWith("https:");
    progress.acked = progress.errors = progress.reconnects = 0;
    // One signal for the user's cancel, a stall, and a failed request that ends the others.
    const local = new AbortController();
    const abort = AbortSignal.any([signal, local.signal]);
    if (version.protocol === "h3") {
      onStatus("Waiting for the browser to speak HTTP/3…");
      try {
        await switchToHttp3(base, info, abort);
      } catch (e) {
        if (abort.aborted) throw new RunError(abortMessage(abort), result);
        throw e instanceof NotRun ? new RunError(e.message, result, { notRun: true }) : new RunError(e.message, result);
      }
    }
    const stopStall = watchStall(progress, n, (why) => local.abort(new Error(why)));
    const latencies = newLatencies(n, false);
    const context = { signal: abort, progress, result, retryDelay: retryPolicy(progress), answered: false, answers: 0, latencies };
    const post = (i) => postNumber(url, i, context);
    const endWatch = watchProtocols(url + "&seq=");
    let failure = null;
    onStatus(concurrent ? `Posting ${n} numbers at once…` : "Posting one number, waiting for its answer, and so on…");
    try {
      const t0 = performance.now();
      if (concurrent) { // every fetch starts now (up to MAX_IN_FLIGHT; each finished one starts the next)
        let next = 0;
        const worker = async () => { while (next < n) await post(++next); };
        await Promise.all(Array.from({ length: Math.min(n, MAX_IN_FLIGHT) }, worker));
      } else {
        for (let i = 1; i <= n; i++) await post(i);
      }
      result.elapsed_ms = performance.now() - t0;
      result.started_at_ms = performance.timeOrigin + t0;
    } catch (e) {
      // Aborted already: cancel or stall. Otherwise a request got no answer at all.
      const unanswered = !abort.aborted && e instanceof TypeError;
      failure = abort.aborted ? abortMessage(abort) : `POST ${url} failed (${e.message}) — is the server's HTTP port ${port} reachable?`;
      local.abort(e); // the concurrent mode: stop the requests still queued
      if (unanswered && result.tls) failure = await certificateProblem(server, base, info, base) ?? failure;
    } finally {
      stopStall();
      recordProgress(result, progress, latencies);
    }
    // Not timed: which protocol the browser really used. A failed run keeps what was seen, without waiting.
    const timing = await endWatch(context.answers, !failure);
    result.protocol = context.answers || timing.protocols.length ? timing.protocols.join(", ") : null;
    if (failure) throw new RunError(failure, result);
    const wrong = protocolProblem(result, version, timing, context.answers, url);
    if (wrong) throw new RunError(wrong, result);
    onStatus("Verifying rows…");
    await verifyRows(server, result);
    return result;
  }

  // An HTTP version's two modes, TRANSPORT/one-at-a-time and TRANSPORT/concurrent. version: label (in the
  // modes' labels), name (in messages), protocol (the nextHopProtocol its runs must show, or they fail),
  // port(info) (where its POSTs go), offered(info) (as for registerMode).
  function registerHttp(transport, version) {
    for (const concurrent of [false, true]) {
      wsbench.registerMode(`${transport}/${concurrent ? "concurrent" : "one-at-a-time"}`, {
        label: `${version.label}, ${concurrent ? "concurrent" : "one at a time"}`, perRequest: true, offered: version.offered,
        supported: version.supported, run: (options) => runHttp(options, transport, version, concurrent),
      });
    }
  }

  registerHttp("http", { label: "HTTP", name: "HTTP/1.1", protocol: "http/1.1", port: (info) => info.http_port });
  registerHttp("http2", { label: "HTTP/2", name: "HTTP/2", protocol: "h2", port: (info) => info.h2_port,
                          offered: (info) => (info?.tls === true && Number.isInteger(info.h2_port)) || "the server has no HTTP/2 port: start it with --tls" });
  registerHttp("http3", { label: "HTTP/3", name: "HTTP/3", protocol: "h3", port: (info) => info.h3_port,
                          supported: () => !isWebKitGtk() || "its network library (libsoup) has no HTTP/3",
                          offered: (info) => (info?.tls === true && Number.isInteger(info.h3_port)) || "the server has no HTTP/3 port: start it with --tls" });
})();
