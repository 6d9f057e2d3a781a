"use strict";
// The registry of benchmark modes, which the transport scripts fill: the page knows a mode only from
// its entry here, so a new transport is a script of its own that calls registerMode (and its
// <script> tag before page/render.js).
//
// wsbench.registerMode(id, spec): id is "transport/mode" (the two become benchmarkResult.transport and
// .mode; modes run in registration order in a compare run). spec:
//   label: what the page calls it ("HTTP/2, concurrent");
//   run(options): resolves to the run's result (wsbench.newResult, filled in) or rejects with
//     wsbench.RunError(message, result). options: { server, n, info, infoError, progress, signal,
//     onStatus(text), onHello(info) }; progress: { acked, errors, reconnects }, counters the page shows;
//   supported() (optional): true when this browser has what the mode needs, else the reason ("no
//     WebTransport API"); such a mode is hidden, left out of a compare run, and a run of it fails with
//     "not supported by BROWSER VERSION: reason";
//   offered(info) (optional): true when the server (its GET /info, null when that failed) offers the
//     mode, else the reason ("the server has no HTTP/2 port: start it with --tls"); such a mode is
//     hidden and left out of a compare run, and a run of it asked for by name fails with the reason;
//   perRequest (optional): each number is a request of its own, so a compare run gives the mode the
//     HTTP N, and retries are counted as requests resent rather than reconnections.
(() => {
  const modes = new Map(); // id -> spec, in registration order

  function registerMode(id, spec) {
    if (!/^[a-z0-9]+\/[a-z0-9-]+$/.test(id) || modes.has(id)) throw new Error(`registerMode: bad or repeated mode id "${id}"`);
    if (!spec.label || typeof spec.run !== "function") throw new Error(`registerMode: mode "${id}" needs a label and run()`);
    const [transport, mode] = id.split("/");
    const always = () => true;
    modes.set(id, Object.freeze({ ...spec, id, transport, mode, supported: spec.supported ?? always, offered: spec.offered ?? always,
                                  perRequest: spec.perRequest ?? false }));
  }

  // The registered mode a result is of.
  const modeOf = (result) => modes.get(`${result.transport}/${result.mode}`);

  // WebKitGTK (Epiphany, MiniBrowser): Safari's engine on Linux, whose user agent names Safari with a
  // made-up version.
  function isWebKitGtk() {
    const ua = navigator.userAgent;
    return /Safari\//.test(ua) && /X11|Linux/.test(ua) && !/Chrome|Chromium|Edg|Firefox|Android/.test(ua);
  }

  // "Firefox 153", "Chrome 156", "Safari 18.0": for the user, who may not know which engine they run.
  function browserName() {
    const ua = navigator.userAgent;
    if (isWebKitGtk()) return "WebKitGTK";
    for (const [name, pattern] of [["Edge", /Edg\/(\d+)/], ["Firefox", /Firefox\/(\d+)/], ["Chrome", /Chrome\/(\d+)/],
                                   ["Safari", /Version\/([\d.]+).* Safari\//]]) {
      const match = ua.match(pattern);
      if (match) return `${name} ${match[1]}`;
    }
    return "this browser";
  }

  // How to make a browser speak HTTP/3 to this server, whose certificate no browser ships a root for:
  // Chromium must be told at start, Firefox follows the server's Alt-Svc once allowed to.
  function http3Advice(host, info) {
    const where = info?.h3_port ? `${host.replace(/:\d+$/, "")}:${info.h3_port}` : host;
    const key = info?.certificate?.spki_sha256 ?? "KEY (certificate.spki_sha256 in GET /info)";
    const chromium = `--origin-to-force-quic-on=${where} --ignore-certificate-errors-spki-list=${key} ` +
      "--user-data-dir=/tmp/wsbench-chromium";
    return `Chromium and Chrome use HTTP/3 to a certificate of a root they do not ship only when started with ${chromium}; ` +
      "Firefox does after one answer's Alt-Svc once about:config sets " +
      "network.http.http3.disable_when_third_party_roots_found to false; WebKitGTK has no HTTP/3.";
  }

  // What this browser lacks for the mode, or null.
  function unsupported(mode) {
    const supported = mode.supported();
    return supported === true ? null : String(supported);
  }

  // Why the mode cannot run here, or null; with no /info (info null) the mode's run finds out itself.
  function refusal(mode, info) {
    const lacking = unsupported(mode), offered = info ? mode.offered(info) : true;
    return lacking ? `not supported by ${browserName()}: ${lacking}` : offered === true ? null : String(offered);
  }

  // The modes this browser supports and this server offers, in order.
  const offeredModes = (info) => [...modes.values()].filter((m) => !unsupported(m) && m.offered(info) === true).map((m) => m.id);

  Object.assign(wsbench, { modes, registerMode, modeOf, isWebKitGtk, browserName, http3Advice, unsupported, refusal,
                           offeredModes });
})();
