"""Firefox (Debian's firefox-esr) driven over WebDriver BiDi, shaped like ``browser.Browser``.

Playwright cannot drive this Firefox and there is no geckodriver, so this speaks BiDi itself over
one WebSocket with the synchronous ``websockets`` client.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from .browser import BrowserMissing, QuicOrigin, text_of

EXECUTABLE = os.environ.get("WSBENCH_FIREFOX", "/usr/bin/firefox-esr")

# There is no internet: no updates, telemetry, studies, safe browsing, network probes or first-run
# pages, so start-up is quick and quiet. (Firefox adds its "recommended" prefs once BiDi is up.)
# fmt: off
_PREFS_OFF = """
    app.normandy.enabled app.shield.optoutstudies.enabled app.update.auto nimbus.rollouts.enabled
    browser.aboutwelcome.enabled browser.discovery.enabled browser.newtab.preload
    browser.newtabpage.enabled browser.safebrowsing.blockedURIs.enabled
    browser.safebrowsing.downloads.enabled browser.safebrowsing.downloads.remote.enabled
    browser.safebrowsing.malware.enabled browser.safebrowsing.phishing.enabled
    browser.search.update browser.sessionstore.resume_from_crash browser.shell.checkDefaultBrowser
    browser.tabs.closeWindowWithLastTab browser.topsites.contile.enabled
    datareporting.healthreport.uploadEnabled datareporting.policy.dataSubmissionEnabled
    datareporting.usage.uploadEnabled dom.push.connection.enabled extensions.getAddons.cache.enabled
    extensions.pocket.enabled extensions.systemAddon.update.enabled extensions.update.enabled
    identity.fxaccounts.enabled network.captive-portal-service.enabled
    network.connectivity-service.enabled network.prefetch-next privacy.trackingprotection.enabled
    security.remote_settings.crlite_filters.enabled toolkit.telemetry.archive.enabled
    toolkit.telemetry.enabled toolkit.telemetry.unified
""".split()  # noqa: SIM905 (a list literal would take a line per pref)
_PREFS: dict[str, bool | int | str] = {
    **dict.fromkeys(_PREFS_OFF, False),
    "app.update.disabledForTesting": True, "network.dns.disablePrefetch": True,
    "datareporting.policy.dataSubmissionPolicyBypassNotification": True,
    "termsofuse.bypassNotification": True, "toolkit.startup.max_resumed_crashes": -1,
    "browser.startup.homepage_override.mstone": "ignore", "browser.startup.page": 0,  # blank
    "startup.homepage_welcome_url": "about:blank", "startup.homepage_welcome_url.additional": "",
    "network.http.speculative-parallel-limit": 0, "network.trr.mode": 5,  # no DNS over HTTPS
    "security.OCSP.enabled": 0, "browser.region.network.url": "", "geo.provider.network.url": "",
    "media.gmp-manager.url": "", "toolkit.telemetry.server": "",
    "services.settings.server": "data:,#remote-settings-dummy/v1",  # remote settings, nimbus
    # HTTP/3 to a server whose root the profile does not ship (the tests' self-signed ones).
    "network.http.http3.disable_when_third_party_roots_found": False,
}
# fmt: on
_LISTENING = re.compile(r"WebDriver BiDi listening on (ws://\S+)")

# The page does the JSON (simpler than mapping BiDi's remote values) and the waiting (one round
# trip, no polling from Python). EXPR sits on lines of its own so a trailing // comment is harmless.
_EVALUATE_JS = """(async () => { let v = await (
EXPR
); if (typeof v === "function") v = await v();
return v === undefined ? undefined : JSON.stringify(v); })()"""
_WAIT_JS = """new Promise((resolve, reject) => { const end = performance.now() + TIMEOUT;
const check = () => { let v; try { v = (
EXPR
); if (typeof v === "function") v = v(); } catch (e) { reject(e); return; }
if (v) resolve(true); else if (performance.now() >= end) resolve(false);
else setTimeout(check, 20); }; check(); })"""


class BiDiError(RuntimeError):
    """A WebDriver BiDi command failed, or Firefox did not answer it in time."""


class JavaScriptError(RuntimeError):
    """JavaScript evaluated in the page threw an exception."""


class _BiDi:
    """One BiDi WebSocket connection: send a command, read until its reply."""

    def __init__(self, url: str, timeout_s: float) -> None:
        # No proxy (it is localhost), no keepalive pings: the per-command deadline catches hangs.
        self._ws: ClientConnection = connect(
            url, legacy=True, proxy=None, compression=None, max_size=None,
            ping_interval=None, open_timeout=timeout_s, close_timeout=2,
        )  # fmt: skip
        self.timeout_s = timeout_s
        self._last_id = 0

    def command(self, method: str, params: dict[str, Any], timeout_s: float = 0) -> dict[str, Any]:
        """Send a command, return its result; BiDiError on an error or no reply in ``timeout_s``."""
        self._last_id += 1
        ident = self._last_id
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        timeout_s = timeout_s or self.timeout_s  # 0: the connection's default
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                message = json.loads(self._ws.recv(timeout=max(0.0, deadline - time.monotonic())))
            except TimeoutError:
                raise BiDiError(f"{method}: no reply from Firefox in {timeout_s:g} s") from None
            if message.get("id") != ident:
                continue  # an event, or the late reply to a command that timed out
            if message.get("type") == "error":
                raise BiDiError(f"{method}: {message.get('error')}: {message.get('message')}")
            result: dict[str, Any] = message["result"]
            return result

    def close(self) -> None:
        """Close the WebSocket."""
        self._ws.close()


class FirefoxPage:
    """One tab (a BiDi top-level browsing context)."""

    def __init__(self, bidi: _BiDi, context: str) -> None:
        self._bidi, self._context, self._closed = bidi, context, False

    def goto(self, url: str) -> None:
        """Open ``url`` and wait until it has loaded."""
        params = {"context": self._context, "url": url, "wait": "complete"}
        self._bidi.command("browsingContext.navigate", params)

    def _run(self, template: str, expression: str, timeout_s: float = 0) -> Any:
        """Evaluate ``template`` around ``expression``, awaited; its value, or JavaScriptError."""
        params = {
            "expression": template.replace("EXPR", expression),
            "target": {"context": self._context},
            "awaitPromise": True,
        }
        reply = self._bidi.command("script.evaluate", params, timeout_s)
        if reply["type"] == "exception":
            raise JavaScriptError(f"{expression}: {reply['exceptionDetails']['text']}")
        return reply["result"].get("value")

    def evaluate(self, expression: str) -> Any:
        """The JSON-compatible value of a JavaScript expression in the page (undefined is None)."""
        text = self._run(_EVALUATE_JS, expression)
        return None if text is None else json.loads(text)

    def wait_for_function(self, expression: str, *, timeout: float = 30_000) -> None:
        """Wait until a JavaScript expression is truthy; ``timeout`` in milliseconds."""
        template = _WAIT_JS.replace("TIMEOUT", repr(float(timeout)))
        if not self._run(template, expression, timeout / 1000 + self._bidi.timeout_s):
            raise TimeoutError(f"{expression!r} still not true after {timeout:g} ms")

    def inner_text(self, selector: str, *, timeout: float = 30_000) -> str:
        """The rendered text of the first element matching a CSS selector (waits for one)."""
        return text_of(self, selector, timeout)

    def click(self, selector: str) -> None:
        """Click the first element matching a CSS selector with the mouse, as a user does."""
        locator = {"type": "css", "value": selector}
        params = {"context": self._context, "locator": locator, "maxNodeCount": 1}
        nodes = self._bidi.command("browsingContext.locateNodes", params)["nodes"]
        if not nodes:
            raise JavaScriptError(f"click: no element matches {selector!r}")
        element = {"type": "element", "element": {"sharedId": nodes[0]["sharedId"]}}
        mouse = [
            {"type": "pointerMove", "x": 0, "y": 0, "origin": element},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerUp", "button": 0},
        ]
        source = {"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}}
        actions = [{**source, "actions": mouse}]
        self._bidi.command("input.performActions", {"context": self._context, "actions": actions})

    def close(self) -> None:
        """Close the tab."""
        if not self._closed:
            self._closed = True
            self._bidi.command("browsingContext.close", {"context": self._context})


class FirefoxBrowser:
    """A running Firefox with one BiDi session."""

    def __init__(self, bidi: _BiDi, version: str) -> None:
        self._bidi, self._version, self._closed = bidi, version, False

    @property
    def version(self) -> str:
        """Firefox's version, e.g. ``153.8.0``."""
        return self._version

    def new_page(self) -> FirefoxPage:
        """A fresh tab."""
        reply = self._bidi.command("browsingContext.create", {"type": "tab"})
        return FirefoxPage(self._bidi, reply["context"])

    def close(self) -> None:
        """End the session and close the connection (``launch`` then stops the process)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._bidi.command("session.end", {}, timeout_s=5)
        except (BiDiError, ConnectionClosed, OSError):
            pass  # closing anyway, and the process is stopped next
        finally:
            self._bidi.close()


def _missing(problem: str, tail: collections.deque[str]) -> BrowserMissing:
    """A BrowserMissing saying what went wrong, what to do, and what Firefox last said."""
    said = "".join(tail).strip() or "(nothing)"
    return BrowserMissing(
        f"{problem}. Install it (apt-get install firefox-esr) or point WSBENCH_FIREFOX at a "
        f"Firefox binary. Firefox's stderr ended with:\n{said}"
    )


def _stop(process: subprocess.Popen[str], reader: threading.Thread) -> None:
    """Terminate Firefox, kill its process group if it lingers, reap it, join the reader."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the group: its content processes too
        process.wait()
    reader.join(timeout=5)


def _start(profile: Path, timeout_s: float) -> tuple[subprocess.Popen[str], threading.Thread, str]:
    """Run Firefox on ``profile``; return it, the thread draining its stderr, its BiDi URL."""
    tail: collections.deque[str] = collections.deque(maxlen=30)
    try:
        # Port 0: Firefox picks a free port and names it on stderr, so there is no race for one.
        process = subprocess.Popen(
            [EXECUTABLE, "--headless", "--no-remote", "--profile", str(profile),
             "--remote-debugging-port=0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, errors="replace", start_new_session=True,  # its own process group
            env={**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1"},
        )  # fmt: skip
    except OSError as error:
        raise _missing(f"cannot run {EXECUTABLE} ({error})", tail) from error
    urls: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:
        # Read stderr to its end so the pipe never fills; pass on the BiDi URL when it appears.
        assert process.stderr is not None
        with process.stderr:
            for line in process.stderr:
                tail.append(line)
                if match := _LISTENING.search(line):
                    urls.put(match[1])
        urls.put(None)  # end of stderr: Firefox has exited

    reader = threading.Thread(target=drain, name="firefox-stderr", daemon=True)
    reader.start()
    try:
        url = urls.get(timeout=timeout_s)
    except queue.Empty:
        url = None
    if url is None:
        running = process.poll() is None
        _stop(process, reader)
        problem = f"did not open its BiDi port in {timeout_s:g} s" if running else "exited early"
        raise _missing(f"{EXECUTABLE} {problem} (status {process.returncode})", tail)
    return process, reader, url


@contextlib.contextmanager
def launch(
    *, accept_insecure_certs: bool = True, timeout_s: float = 30, quic: Sequence[QuicOrigin] = ()
) -> Iterator[FirefoxBrowser]:
    """Start headless Firefox with a fresh profile on a free port; stop it and remove it on exit.

    ``quic`` needs nothing here: Firefox follows a server's Alt-Svc to its HTTP/3 port (a pref
    below lets it do so for a self-signed certificate).
    """
    # Undone in reverse order, also when an exception escapes: session, WebSocket, process, profile.
    with contextlib.ExitStack() as stack:
        profile = Path(tempfile.mkdtemp(prefix="wsbench-firefox-"))
        stack.callback(shutil.rmtree, profile, ignore_errors=True)
        prefs = (f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in _PREFS.items())
        (profile / "user.js").write_text("".join(prefs))
        process, reader, url = _start(profile, timeout_s)
        stack.callback(_stop, process, reader)
        bidi = _BiDi(f"{url}/session", timeout_s)
        stack.callback(bidi.close)
        capabilities = {"alwaysMatch": {"acceptInsecureCerts": accept_insecure_certs}}
        reply = bidi.command("session.new", {"capabilities": capabilities})
        browser = FirefoxBrowser(bidi, reply["capabilities"]["browserVersion"])
        stack.callback(browser.close)
        yield browser
