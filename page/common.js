"use strict";
// What every transport shares, with no DOM access: errors, results, ack latencies, GETs to the
// server, row checks, retries and stalls. The page's scripts are classic scripts (modules do not
// load from file://), so they share one global, window.wsbench, and keep everything else inside.
window.wsbench = (() => {
  const HELLO_TIMEOUT_MS = 5000;
  const STALL_TIMEOUT_MS = 30000; // no progress over one such interval: fail rather than run forever
  // Sending again after a drop (a WebSocket reconnect, an HTTP request resent): wait 100 ms, doubling
  // up to 2 s, and give up once the run has made no progress for 30 s (about 20 attempts).
  const RETRY_FIRST_MS = 100, RETRY_MAX_MS = 2000, RETRY_GIVE_UP_MS = 30000;

  // notRun: the browser is not set up for the mode (HTTP/3 to a self-signed server): a compare run
  // reports it like a mode the browser lacks and goes on; a run asked for by name fails with it.
  class RunError extends Error {
    constructor(message, result, { notRun = false } = {}) { super(message); this.result = result; this.notRun = notRun; }
  }
  class NotRun extends Error {}

  // A fresh id per run, so the server can count this run's rows separately.
  // ?run=ID names the page's first run, for a script that must find its rows; later runs get fresh ids.
  // ?run_prefix=P starts every run's id with "P-", so a script can clean up runs it never saw end.
  const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;
  const params = new URLSearchParams(location.search);
  let requestedRunId = params.get("run");
  const runPrefix = /^[A-Za-z0-9_-]{1,40}$/.test(params.get("run_prefix") ?? "") ? params.get("run_prefix") + "-" : "p";
  function newRunId() {
    const requested = requestedRunId;
    requestedRunId = null;
    if (requested && RUN_ID.test(requested)) return requested;
    const random = Array.from(crypto.getRandomValues(new Uint32Array(2)), (x) => x.toString(36)).join("");
    return runPrefix + Date.now().toString(36) + "-" + random;
  }

  // window.benchmarkResult, one per run (an array of them for a compare run):
  //   transport, mode: the mode id split at "/" ("websocket", "http", "http2", "http3", "webtransport";
  //     "pipelined", "one-at-a-time", "concurrent", "datagrams"); protocol: "websocket", "webtransport", or for
  //     HTTP modes the nextHopProtocol the browser reports for the run's POSTs ("http/1.1", "h2", "h3"; null
  //     when none was answered); tls: true over wss:// or https://;
  //   n, acked, errors, elapsed_ms, rows_verified, run, store, commit, last_error, verify_error;
  //   started_at_ms: when the clock started, in ms since the Unix epoch (performance.timeOrigin + t0), so
  //     a tool outside the page can tell which packets crossed the network while it ran;
  //   reconnects: WebSocket modes, how often the run was resumed over a new connection after a drop;
  //     HTTP modes, how many requests were sent again (after a network failure or a 503);
  //   latency_ms: { p50, p95, p99, max } from each number's send to the answer covering it;
  //   error: only on failure, the message the page shows;
  //   unsupported: the browser lacks what the mode needs ("not supported by WebKitGTK: ..."), with error too;
  //   not_run: why the mode did not run here (it lacks the API, or is not set up for HTTP/3), with error
  //     too; a compare run reports such a mode and goes on.
  function newResult(transport, mode, n, info) {
    return { transport, mode, protocol: null, tls: null, n, acked: 0, errors: 0,
             reconnects: 0, elapsed_ms: null, started_at_ms: null, rows_verified: null, run: newRunId(), store: info?.store ?? null,
             commit: info?.commit ?? null, last_error: null, verify_error: null,
             latency_ms: { p50: null, p95: null, p99: null, max: null } };
  }

  // Ack latency: per number, from its (last) send to the answer that covers it. The timed path only
  // writes into arrays allocated before the run; sorting and counting happen after the clock stops.
  const PERCENTILES = [50, 95, 99];
  const BINS_PER_DECADE = 8; // histogram buckets 10^(1/8), about 33%, apart: bucket k is [10^(k/8), 10^((k+1)/8)) ms
  const LATENCY_FLOOR_MS = 0.1; // Chromium's clock steps by 0.1 ms (no cross-origin isolation): less counts as 0.1
  const RAW_SAMPLES_MAX = 20000; // runs up to this N keep every latency for the download
  const latencyDetails = new Map(); // run id -> { first, counts, samples }: the histogram, for the chart and the download

  // sent[i]: when position i+1 was last sent (0: never; WebSocket modes); values[0..count): latencies in ms.
  function newLatencies(n, positions) {
    return { sent: positions ? new Float64Array(n) : null, values: new Float64Array(n), count: 0, next: 0 };
  }

  // A cumulative ack: positions next+1..upto are acked at `now`, each timed from its last send. One
  // never sent by this page (committed before it connected) has no latency.
  function cover(latencies, upto, now) {
    const { sent, values } = latencies;
    let { next, count } = latencies;
    for (; next < upto; next++) if (sent[next] > 0) values[count++] = now - sent[next];
    latencies.next = next;
    latencies.count = count;
  }

  // Linear between ranks, as wsbench/bench.py computes them, so page and bench agree.
  function percentile(sorted, p) {
    const at = (sorted.length - 1) * p / 100, lo = Math.floor(at), hi = Math.min(lo + 1, sorted.length - 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
  }

  const latencyBin = (ms) => Math.floor(Math.log10(Math.max(ms, LATENCY_FLOOR_MS)) * BINS_PER_DECADE);
  const round3 = (ms) => Math.round(ms * 1000) / 1000; // 1 µs: finer than the clock

  // The live counters become the result's, once a run ends either way.
  function recordProgress(result, progress, latencies) {
    result.acked = progress.acked;
    result.errors = progress.errors;
    result.reconnects = progress.reconnects;
    finishLatencies(result, latencies);
  }

  // After the run: result.latency_ms, and the histogram (with the raw samples of a small run) aside, so
  // window.benchmarkResult stays small.
  function finishLatencies(result, latencies) {
    const samples = latencies.values.subarray(0, latencies.count), sorted = samples.slice().sort(); // numeric
    if (!sorted.length) return;
    result.latency_ms = { ...Object.fromEntries(PERCENTILES.map((p) => [`p${p}`, round3(percentile(sorted, p))])),
                          max: round3(sorted.at(-1)) };
    const first = latencyBin(sorted[0]), counts = new Array(latencyBin(sorted.at(-1)) - first + 1).fill(0);
    for (const ms of sorted) counts[latencyBin(ms) - first]++;
    latencyDetails.set(result.run, { first, counts, samples: samples.length <= RAW_SAMPLES_MAX ? samples.slice() : null });
  }

  // ws://host:port/any/path -> http://host:port, where the WebSocket port answers /info and /runs/;
  // with a port: the server URL's hostname on that port (where numbers are POSTed).
  function httpBase(server, port) {
    const url = new URL(server);
    return (url.protocol === "wss:" ? "https://" : "http://") + (port ? url.hostname + ":" + port : url.host);
  }

  // The https:// base of a wss:// server URL, else null (also for a URL that does not parse).
  function tlsBase(server) {
    try { return new URL(server).protocol === "wss:" ? httpBase(server) : null; } catch { return null; }
  }

  // Where a browser is shown the server's certificate to accept: each port of the server (from /info),
  // or the server URL's own port when /info could not be fetched.
  function certificateAddresses(server, info) {
    const url = new URL(server);
    const ports = info ? [info.ws_port, info.http_port, info.h2_port].filter(Number.isInteger) : [Number(url.port || 443)];
    return ports.map((port) => `https://${url.hostname}:${port}/`);
  }

  const listText = (items) => (items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`);

  function certificateAdvice(addresses) {
    return `The browser does not trust the server's certificate yet. Open ${listText(addresses)} once${addresses.length > 1 ? " each" : ""} ` +
      "in this browser and accept the warning (one exception may not cover every port), then press Run again. Or give the server a trusted certificate with --tls-cert/--tls-key " +
      "(e.g. made by mkcert).";
  }

  // A request to `base` (https://host:port) got no answer at all. Ask that port again without CORS, so
  // that only a network or TLS failure can fail the probe: if it fails too, and the server is known to be
  // up (its /info answered, or it served this page), the browser refused the certificate. Otherwise the
  // page cannot tell a stopped server from an untrusted certificate (a browser reports both alike) and
  // says so. null: the port answers, so the certificate is not the problem.
  async function certificateProblem(server, base, info, what) {
    try {
      await fetch(base + "/info", { mode: "no-cors", cache: "no-store", signal: AbortSignal.timeout(HELLO_TIMEOUT_MS) });
      return null;
    } catch (e) {
      if (!(e instanceof TypeError)) return null; // a timeout: something listens
    }
    const advice = certificateAdvice(certificateAddresses(server, info));
    const servedUs = location.protocol === "https:" && location.hostname === new URL(base).hostname;
    if (info || servedUs) return advice;
    return `Could not connect to ${what}: is "python websocket_server.py --tls" running? If it is, ` +
      advice[0].toLowerCase() + advice.slice(1);
  }

  const abortMessage = (signal) => signal.reason?.message ?? "Cancelled";

  // GET a JSON answer, with a timeout; errors say which URL failed and why.
  async function getJson(url, signal) {
    const timeout = AbortSignal.timeout(HELLO_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(url, { cache: "no-store", signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    } catch (e) {
      if (signal?.aborted) throw new Error(abortMessage(signal));
      throw new Error(`GET ${url} failed (${e.message})`);
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(`GET ${url} answered HTTP ${response.status}${body.error ? ": " + body.error : ""}`);
    }
    return response.json();
  }

  // Not timed: ask the server how many rows it holds for the run (rows is null for the null store).
  async function verifyRows(server, result) {
    try {
      const answer = await getJson(httpBase(server) + "/runs/" + encodeURIComponent(result.run));
      result.rows_verified = Number.isInteger(answer.rows) ? answer.rows : null;
      if (result.store !== "null" && result.rows_verified === null) {
        result.verify_error = `unexpected answer ${JSON.stringify(answer)}`;
      }
    } catch (e) {
      result.verify_error = e.message;
    }
  }

  // Fail a run that makes no progress for STALL_TIMEOUT_MS, rather than run forever.
  function watchStall(progress, n, onStall) {
    let seen = -1;
    const timer = setInterval(() => {
      const done = progress.acked + progress.errors;
      if (done === seen) onStall(`No answer from the server for ${STALL_TIMEOUT_MS / 1000} s (${done} of ${n} done)`);
      seen = done;
    }, STALL_TIMEOUT_MS);
    return () => clearInterval(timer);
  }

  // The wait before attempt `attempt` (from 0) to send again, or null to give up: the run's
  // acked + errors count has not moved for RETRY_GIVE_UP_MS. One per run, shared by its requests.
  function retryPolicy(progress) {
    let seen = -1, since = 0;
    return (attempt) => {
      const now = performance.now(), done = progress.acked + progress.errors;
      if (done !== seen) [seen, since] = [done, now];
      return now - since >= RETRY_GIVE_UP_MS ? null : Math.min(RETRY_FIRST_MS * 2 ** attempt, RETRY_MAX_MS);
    };
  }

  // A run over one ordered channel (a WebSocket, a WebTransport stream) that survives drops: connect,
  // hear the hello, exchange from what it says is committed, and after a drop connect again with
  // backoff. connect(resuming) resolves to { hello, helloAt, ... }, which exchange(connection,
  // committed) gets; retryable(error, started) says whether an error is a drop the run outlives.
  async function resumeRun({ n, pipelined, context, connect, exchange, retryable, onStatus, onHello }) {
    const { progress, latencies, clock, signal } = context;
    const retryDelay = retryPolicy(progress);
    for (let failures = 0; ;) { // in a row, since the last hello
      const resuming = clock.t0 !== null;
      try {
        const connection = await connect(resuming);
        if (resuming) progress.reconnects += 1;
        failures = 0;
        const committed = Number.isInteger(connection.hello.committed) ? connection.hello.committed : 0;
        // Committed while the connection was down: acked by this hello, each from its last send.
        cover(latencies, committed, connection.helloAt);
        onHello(connection.hello); // DOM work happens here, before the clock starts (or while it runs through an outage)
        onStatus(pipelined ? "Sending and waiting for acks…" : "Sending one number, waiting for its ack, and so on…");
        await exchange(connection, committed);
        return;
      } catch (e) {
        if (!retryable(e, clock.t0 !== null)) throw e;
        const delay = retryDelay(failures++);
        if (delay === null) {
          throw new Error(`Gave up reconnecting after ${RETRY_GIVE_UP_MS / 1000} s without progress ` +
            `(${progress.acked} of ${n} acked); last: ${e.message}`);
        }
        onStatus(`${e.message}. Reconnecting in ${delay / 1000} s…`);
        await sleep(delay, signal);
      }
    }
  }

  function sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new Error(abortMessage(signal)));
      const onAbort = () => { clearTimeout(timer); reject(new Error(abortMessage(signal))); };
      const timer = setTimeout(() => { signal.removeEventListener("abort", onAbort); resolve(); }, ms);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  return { HELLO_TIMEOUT_MS, RETRY_GIVE_UP_MS, RunError, NotRun, newResult, PERCENTILES, BINS_PER_DECADE, LATENCY_FLOOR_MS,
           latencyDetails, newLatencies, cover, recordProgress, round3, httpBase, tlsBase, certificateAddresses, listText,
           certificateProblem, abortMessage, getJson, verifyRows, watchStall, retryPolicy, resumeRun, sleep };
})();
