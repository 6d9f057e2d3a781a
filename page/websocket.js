"use strict";
// The WebSocket transport: numbers as text frames over one connection, cumulative acks back; a run
// resumes over a new connection after a drop. Registers websocket/pipelined and websocket/one-at-a-time.
(() => {
  const { HELLO_TIMEOUT_MS, RunError, newResult, newLatencies, cover, recordProgress, tlsBase,
          certificateProblem, abortMessage, verifyRows, watchStall, resumeRun } = wsbench;

  const CLOSE_REASONS = { 1001: "going away", 1006: "abnormal closure", 1008: "policy violation",
                          1009: "message too big", 1011: "server error", 1012: "service restart",
                          1013: "try again later" };

  // The connection closed or never answered: a run that has started goes on over a new one.
  // opened: false when the socket never opened (nothing listens, a refused handshake, an untrusted certificate).
  class Dropped extends Error {
    constructor(message, code, opened = true) { super(message); this.code = code; this.opened = opened; }
  }

  function parseFrame(data) {
    try {
      const msg = JSON.parse(data);
      return msg !== null && typeof msg === "object" ? msg : null;
    } catch {
      return null; // not JSON: ignore like any unknown frame
    }
  }

  function closeQuietly(ws) { // and hear nothing more from it
    ws.onopen = ws.onmessage = ws.onclose = null;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(1000);
  }

  function closedMessage(event, result) {
    const why = event.reason || CLOSE_REASONS[event.code];
    const said = result.last_error ? `; server said: ${result.last_error}` : "";
    return `Connection closed before the run finished (code ${event.code}${why ? ": " + why : ""})${said}`;
  }

  // Open the socket and wait for the hello frame. A close or a timeout rejects with Dropped.
  function connect(server, result, signal) {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new Error(abortMessage(signal)));
      let ws;
      try {
        ws = new WebSocket(server.replace(/\/+$/, "") + "/?run=" + result.run);
      } catch (e) {
        return reject(new Error(`Cannot open ${server}: ${e.message}`));
      }
      let opened = false;
      const notRunning = `Could not connect to ${server} — is "python websocket_server.py" running?`;
      const cleanup = () => { clearTimeout(timer); signal.removeEventListener("abort", onAbort); };
      const fail = (error) => { cleanup(); closeQuietly(ws); reject(error); };
      const onAbort = () => fail(new Error(abortMessage(signal)));
      const timer = setTimeout(() => fail(new Dropped(opened
        ? `No hello frame from ${server} within ${HELLO_TIMEOUT_MS / 1000} s`
        : notRunning + ` (no connection within ${HELLO_TIMEOUT_MS / 1000} s)`, undefined, opened)), HELLO_TIMEOUT_MS);
      signal.addEventListener("abort", onAbort);
      ws.onopen = () => { opened = true; };
      ws.onmessage = (event) => {
        const msg = parseFrame(event.data);
        if (msg?.hello && typeof msg.hello === "object") {
          cleanup();
          // The server sends nothing more until it gets numbers, so no frame falls between handlers.
          ws.onmessage = ws.onclose = null;
          resolve({ ws, hello: msg.hello, helloAt: performance.now() });
        } else if (msg && "error" in msg) {
          result.last_error = String(msg.error);
        }
      };
      // Never opened: nothing listens, the handshake was refused (403, 503), or (wss://) the certificate was;
      // the browser cannot tell which.
      ws.onclose = (event) => fail(new Dropped(opened ? closedMessage(event, result) : notRunning, opened ? event.code : null, opened));
    });
  }

  // The timed part: send committed+1..n and count acks until every number is acked or rejected; a close
  // rejects with Dropped. Pipelined queues every frame at once (ws.send only queues; the browser flushes
  // in the background); one at a time sends the next number when an answer covers the last one. The
  // clock starts with the first send and runs on through reconnects: an outage is part of the run.
  function exchange(ws, n, pipelined, committed, { progress, result, signal, clock, latencies }) {
    return new Promise((resolve, reject) => {
      let sent = committed;
      const sentAt = latencies.sent;
      // Numbers reported as not stored over earlier connections are not among the committed: they
      // are sent again, so only this connection's errors count towards n.
      const errorsBefore = progress.errors;
      const settle = (error) => {
        stopStall();
        signal.removeEventListener("abort", onAbort);
        closeQuietly(ws);
        error ? reject(error) : resolve();
      };
      const onAbort = () => settle(new Error(abortMessage(signal)));
      const stopStall = watchStall(progress, n, (why) => settle(new Error(why)));
      const sendNext = () => { sentAt[sent] = performance.now(); ws.send(String(++sent)); };
      const finished = () => {
        const done = progress.acked + progress.errors - errorsBefore;
        if (done >= n) {
          result.elapsed_ms = performance.now() - clock.t0; // stop the clock at the completing message
          result.started_at_ms = performance.timeOrigin + clock.t0;
          settle();
        }
        return done;
      };
      signal.addEventListener("abort", onAbort);
      ws.onmessage = (event) => {
        const msg = parseFrame(event.data);
        if (typeof msg?.acked === "number") {
          progress.acked = msg.acked; // cumulative for the whole run, across connections
          cover(latencies, Math.min(msg.acked, sent), performance.now()); // before finished(): none exceeds elapsed
        } else if (msg && "error" in msg) {
          // {"error", "frame"} rejects one frame; {"error", "not_stored": K} reports K numbers lost.
          progress.errors += Number.isInteger(msg.not_stored) ? msg.not_stored : 1;
          result.last_error = String(msg.error);
        } else {
          return;
        }
        const done = finished();
        if (done < n && !pipelined && done >= sent) sendNext();
      };
      ws.onclose = (event) => settle(new Dropped(closedMessage(event, result), event.code));
      progress.acked = committed;
      clock.t0 ??= performance.now();
      if (finished() >= n) return; // all committed before the connection dropped
      if (pipelined) while (sent < n) sendNext();
      else sendNext();
    });
  }

  // Connect, exchange, and after a drop mid-run reconnect with backoff to resume the same run.
  // Not retried: a cancel, a stall, and a first connection that never opened or was closed with
  // anything but 1013 (try again later); these keep their message.
  async function runWebSocket({ server, n, info, progress, signal, onStatus = () => {}, onHello = () => {} }, pipelined) {
    const result = newResult("websocket", pipelined ? "pipelined" : "one-at-a-time", n, info);
    result.protocol = "websocket";
    let url;
    try { url = new URL(server); } catch { throw new RunError(`Invalid server URL "${server}"`, result); }
    if (url.protocol !== "ws:" && url.protocol !== "wss:") {
      throw new RunError(`Server URL must start with ws:// or wss:// (got "${server}")`, result);
    }
    result.tls = url.protocol === "wss:";
    progress.acked = progress.errors = progress.reconnects = 0;
    const latencies = newLatencies(n, true);
    const context = { progress, result, signal, clock: { t0: null }, latencies };
    onStatus("Connecting…");
    try {
      await resumeRun({
        n, pipelined, context, onStatus, onHello,
        connect: async (resuming) => {
          const connection = await connect(server, result, signal);
          if (resuming && !Number.isInteger(connection.hello.committed)) {
            closeQuietly(connection.ws);
            throw new Error("The connection dropped and the server cannot resume the run (no \"committed\" in its hello)");
          }
          result.store = connection.hello.store ?? result.store;
          result.commit = connection.hello.commit ?? result.commit;
          return connection;
        },
        exchange: ({ ws }, committed) => exchange(ws, n, pipelined, committed, context),
        // Not retried: a first connection that never opened or was closed with anything but 1013.
        retryable: (e, started) => e instanceof Dropped && (started || e.code === 1013),
      });
    } catch (e) {
      // The first connection never opened, over TLS: perhaps the browser does not trust the certificate.
      const base = e instanceof Dropped && !e.opened && !signal.aborted ? tlsBase(server) : null;
      throw new RunError((base && await certificateProblem(server, base, info, server)) ?? e.message, result);
    } finally {
      recordProgress(result, progress, latencies);
    }
    onStatus("Verifying rows…");
    await verifyRows(server, result);
    return result;
  }

  const supported = () => typeof WebSocket === "function" || "no WebSocket API";
  wsbench.registerMode("websocket/pipelined", { label: "WebSocket, pipelined", supported, run: (o) => runWebSocket(o, true) });
  wsbench.registerMode("websocket/one-at-a-time", { label: "WebSocket, one at a time", supported, run: (o) => runWebSocket(o, false) });
})();
