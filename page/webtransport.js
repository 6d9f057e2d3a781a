"use strict";
// The WebTransport transport: a session on the server's HTTP/3 port (QUIC). The server opens the
// session's stream and greets on it; the stream then carries the WebSocket protocol's messages, one a
// line (numbers in, cumulative acks out), so a dropped run resumes the same way. Datagrams carry
// "SEQ NUMBER" each, are answered with {"seqs": [[first, last], ...]}, and are resent until acked.
// Registers webtransport/pipelined, webtransport/one-at-a-time and webtransport/datagrams.
(() => {
  const { HELLO_TIMEOUT_MS, RunError, newResult, newLatencies, cover, recordProgress, abortMessage, verifyRows,
          watchStall, resumeRun } = wsbench;

  const encoder = new TextEncoder();
  const DATAGRAM_WINDOW = 256; // datagrams in flight: enough to fill a long link, few enough to queue nowhere
  const RESEND_MIN_MS = 50; // a datagram unacked this long (or 4x the smoothed ack time) is sent again
  const RESEND_TICK_MS = 10;
  const CLOSED_WAIT_MS = 1000;

  // The run's session closed or never opened; opened: whether it was ever up (a run that was resumes).
  class Dropped extends Error {
    constructor(message, opened = true) { super(message); this.opened = opened; }
  }

  function sessionUrl(server, info, run) {
    const host = new URL(server).hostname; // the WebSocket URL's host, bracketed when IPv6
    return `https://${host}:${info.h3_port}${info.webtransport_path}?run=${encodeURIComponent(run)}`;
  }

  // A certificate WebTransport can pin (ECDSA, valid 14 days at most, as --tls makes) is pinned by its
  // hash, so no root is needed; any other must chain to a root the browser trusts.
  function sessionOptions(info) {
    if (info.certificate?.pinnable !== true) return {};
    const value = Uint8Array.from(atob(info.certificate.sha256), (c) => c.charCodeAt(0));
    return { serverCertificateHashes: [{ algorithm: "sha-256", value }] };
  }

  // Lines from a byte stream, as they complete.
  async function* lines(readable) {
    const reader = readable.pipeThrough(new TextDecoderStream()).getReader();
    let partial = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const parts = (partial + value).split("\n");
        partial = parts.pop();
        yield* parts;
      }
    } finally {
      reader.releaseLock();
    }
  }

  function parseLine(line) {
    try {
      const msg = JSON.parse(line);
      return msg !== null && typeof msg === "object" ? msg : null;
    } catch {
      return null; // not JSON: ignore like any unknown message
    }
  }

  // Open a session and take the stream the server opens, up to its hello; Dropped when it cannot.
  async function connect(url, info, result, signal) {
    if (signal.aborted) throw new Error(abortMessage(signal));
    let session;
    try {
      session = new WebTransport(url, sessionOptions(info));
    } catch (e) {
      throw new Dropped(`Cannot open a WebTransport session to ${url}: ${e.message}`, false);
    }
    const onAbort = () => session.close({ closeCode: 0, reason: "cancelled" });
    signal.addEventListener("abort", onAbort);
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Dropped(`No hello from ${url} within ${HELLO_TIMEOUT_MS / 1000} s`, false)), HELLO_TIMEOUT_MS);
    });
    try {
      const greeted = (async () => {
        try {
          await session.ready;
        } catch (e) {
          throw new Dropped(`Could not open a WebTransport session to ${url} (${e.message}) — is "python websocket_server.py --tls" running, ` +
            "and its UDP port reachable?", false);
        }
        const streams = session.incomingBidirectionalStreams.getReader();
        const { value: stream } = await streams.read();
        streams.releaseLock();
        if (!stream) throw new Dropped(`The session to ${url} closed before the server opened its stream`);
        const incoming = lines(stream.readable);
        // next() by hand: leaving a for-await loop would close the generator the exchange reads on.
        for (let line; !(line = await incoming.next()).done;) {
          const msg = parseLine(line.value);
          if (msg?.hello && typeof msg.hello === "object") {
            return { session, incoming, writer: stream.writable.getWriter(), hello: msg.hello, helloAt: performance.now() };
          }
          if (msg && "error" in msg) result.last_error = String(msg.error);
        }
        throw new Dropped(`The session to ${url} closed before its hello${result.last_error ? ": " + result.last_error : ""}`);
      })();
      return await Promise.race([greeted, timeout]);
    } catch (e) {
      session.close();
      throw signal.aborted ? new Error(abortMessage(signal)) : e;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }

  // Why a session ended, from its `closed` promise (a close code and reason, or an error); a stream that
  // ended while its session stays open gets no answer there.
  async function closedMessage(session, result) {
    const said = result.last_error ? `; server said: ${result.last_error}` : "";
    const open = new Promise((resolve) => setTimeout(resolve, CLOSED_WAIT_MS, { closeCode: "none", reason: "the stream ended" }));
    try {
      const { closeCode, reason } = await Promise.race([session.closed, open]);
      return `Session closed before the run finished (code ${closeCode}${reason ? ": " + reason : ""})${said}`;
    } catch (e) {
      return `Session failed before the run finished (${e.message})${said}`;
    }
  }

  // The timed part over the stream, as the WebSocket transport's: committed+1..n, all at once (up to the
  // hello's window of numbers not yet acked: QUIC does not hold a sender back while commits lag) or each
  // after the last one's ack; acks are cumulative for the run. Dropped when the session ends first.
  async function exchange({ session, incoming, writer, hello }, n, pipelined, committed, { progress, result, signal, clock, latencies }) {
    const sentAt = latencies.sent, errorsBefore = progress.errors;
    const window = pipelined ? (Number.isInteger(hello.window) && hello.window > 0 ? hello.window : n) : 1;
    let sent = committed, failed = null;
    const fail = (error) => { failed ??= error; session.close(); };
    const onAbort = () => fail(new Error(abortMessage(signal)));
    signal.addEventListener("abort", onAbort);
    const stopStall = watchStall(progress, n, (why) => fail(new Error(why)));
    // A write resolves once the bytes are queued; a failed write shows as the session's end.
    const sendNext = () => { sentAt[sent] = performance.now(); writer.write(encoder.encode(`${++sent}\n`)).catch(() => {}); };
    const settled = () => progress.acked + progress.errors - errorsBefore;
    const done = () => settled() >= n;
    const sendMore = () => { while (sent < n && sent - settled() < window) sendNext(); };
    try {
      progress.acked = committed;
      clock.t0 ??= performance.now();
      if (!done()) {
        sendMore();
        for (;;) {
          let line;
          try {
            line = await incoming.next();
          } catch (e) { // the session failed under the stream: a drop, which the run survives
            throw failed ?? new Dropped(`Session lost before the run finished (${e.message})`);
          }
          if (line.done) break;
          const msg = parseLine(line.value);
          if (typeof msg?.acked === "number") {
            progress.acked = msg.acked;
            cover(latencies, Math.min(msg.acked, sent), performance.now());
          } else if (msg && "error" in msg) {
            progress.errors += Number.isInteger(msg.not_stored) ? msg.not_stored : 1;
            result.last_error = String(msg.error);
          } else {
            continue;
          }
          if (done()) break;
          sendMore();
        }
      }
      if (failed) throw failed;
      if (!done()) throw new Dropped(await closedMessage(session, result));
      result.elapsed_ms = performance.now() - clock.t0; // stopped at the completing message
      result.started_at_ms = performance.timeOrigin + clock.t0;
    } finally {
      stopStall();
      signal.removeEventListener("abort", onAbort);
      session.close();
    }
  }

  // Over the stream: connect, exchange, and after a drop mid-run resume from what the hello says is committed.
  async function runStream(options, pipelined) {
    const { server, n, info, progress, signal, onStatus = () => {}, onHello = () => {} } = options;
    const result = newResult("webtransport", pipelined ? "pipelined" : "one-at-a-time", n, info);
    Object.assign(result, { protocol: "webtransport", tls: true });
    const url = sessionUrl(server, info, result.run);
    progress.acked = progress.errors = progress.reconnects = 0;
    const latencies = newLatencies(n, true);
    const context = { progress, result, signal, clock: { t0: null }, latencies };
    onStatus("Opening a WebTransport session…");
    try {
      await resumeRun({
        n, pipelined, context, onStatus, onHello,
        connect: () => connect(url, info, result, signal),
        exchange: (connection, committed) => exchange(connection, n, pipelined, committed, context),
        // Not retried: a cancel, and a first session that never opened.
        retryable: (e, started) => e instanceof Dropped && (started || e.opened) && !signal.aborted,
      });
    } catch (e) {
      throw new RunError(e.message, result);
    } finally {
      recordProgress(result, progress, latencies);
    }
    onStatus("Verifying rows…");
    await verifyRows(server, result);
    return result;
  }

  // Each number a datagram, at most DATAGRAM_WINDOW unacked; one unacked for longer than the resend
  // timeout is sent again (counted in `resent`); the run ends when every number is acked.
  async function runDatagrams({ server, n, info, progress, signal, onStatus = () => {}, onHello = () => {} }) {
    const result = newResult("webtransport", "datagrams", n, info);
    Object.assign(result, { protocol: "webtransport", tls: true, resent: 0 });
    progress.acked = progress.errors = progress.reconnects = 0;
    const latencies = newLatencies(n, true);
    const sentAt = latencies.sent; // seq i at index i - 1
    const acked = new Uint8Array(n + 1);
    let connection;
    onStatus("Opening a WebTransport session…");
    try {
      connection = await connect(sessionUrl(server, info, result.run), info, result, signal);
    } catch (e) {
      recordProgress(result, progress, latencies);
      throw new RunError(e.message, result);
    }
    const { session, hello } = connection;
    onHello(hello);
    onStatus("Sending datagrams and waiting for acks…");
    const out = session.datagrams.writable.getWriter(), incoming = session.datagrams.readable.getReader();
    const decoder = new TextDecoder();
    const unacked = new Set(); // sent, not yet acked, in first-send order
    let next = 1, smoothed = null, failed = null, timer = null;
    const resendAfter = () => Math.max(RESEND_MIN_MS, 4 * (smoothed ?? RESEND_MIN_MS));
    const send = (seq) => { sentAt[seq - 1] = performance.now(); out.write(encoder.encode(`${seq} ${seq}`)).catch(() => {}); };
    const fill = () => { while (next <= n && unacked.size < DATAGRAM_WINDOW) { unacked.add(next); send(next++); } };
    const stopStall = watchStall(progress, n, (why) => { failed ??= new Error(why); session.close(); });
    const onAbort = () => { failed ??= new Error(abortMessage(signal)); session.close(); };
    signal.addEventListener("abort", onAbort);
    const t0 = performance.now();
    try {
      fill();
      timer = setInterval(() => {
        const now = performance.now(), overdue = now - resendAfter();
        for (const seq of unacked) {
          if (sentAt[seq - 1] <= overdue) { send(seq); result.resent += 1; }
        }
      }, RESEND_TICK_MS);
      while (progress.acked < n) {
        const { value, done } = await incoming.read();
        if (done) throw failed ?? new Error(await closedMessage(session, result));
        const msg = parseLine(decoder.decode(value));
        if (Array.isArray(msg?.seqs)) {
          const now = performance.now();
          for (const [first, last] of msg.seqs) {
            for (let seq = Math.max(1, first); seq <= Math.min(n, last); seq++) {
              if (acked[seq]) continue;
              acked[seq] = 1;
              unacked.delete(seq);
              progress.acked += 1;
              const took = now - sentAt[seq - 1];
              latencies.values[latencies.count++] = took;
              smoothed = smoothed === null ? took : 0.875 * smoothed + 0.125 * took;
            }
          }
          fill();
        } else if (msg && "error" in msg) {
          result.last_error = String(msg.error); // the number is resent: the datagram's fate is the same as a loss
        }
      }
      result.elapsed_ms = performance.now() - t0;
      result.started_at_ms = performance.timeOrigin + t0;
    } catch (e) {
      throw new RunError(failed?.message ?? e.message, result);
    } finally {
      clearInterval(timer);
      stopStall();
      signal.removeEventListener("abort", onAbort);
      session.close();
      recordProgress(result, progress, latencies);
    }
    onStatus("Verifying rows…");
    await verifyRows(server, result);
    return result;
  }

  const supported = () => typeof WebTransport === "function" || "no WebTransport API";
  const offered = (info) => (info?.tls === true && Number.isInteger(info.h3_port) && Boolean(info.webtransport_path)) ||
    "the server has no HTTP/3 port: start it with --tls";
  const register = (mode, label, run) => wsbench.registerMode(`webtransport/${mode}`, { label, supported, offered, run });
  register("pipelined", "WebTransport, pipelined", (o) => runStream(o, true));
  register("one-at-a-time", "WebTransport, one at a time", (o) => runStream(o, false));
  register("datagrams", "WebTransport, datagrams", runDatagrams);
})();
