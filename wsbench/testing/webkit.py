"""WebKitGTK (Debian's ``webkit2gtk-driver``) over W3C WebDriver, shaped like ``browser.Browser``.

``WebKitWebDriver`` drives WebKitGTK's ``MiniBrowser``, which needs an X display: each launch
starts an Xvfb of its own (on a display it picks), the driver in a process group of its own, and
a Selenium session; on exit the session is deleted (otherwise MiniBrowser outlives the driver),
then the driver's group and Xvfb are stopped. A session that cannot start hangs rather than
failing, so every step has a deadline.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import select
import signal
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any

from .browser import BrowserMissing, QuicOrigin, text_of

EXECUTABLE = os.environ.get("WSBENCH_WEBKITDRIVER", "/usr/bin/WebKitWebDriver")
MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
XVFB = "/usr/bin/Xvfb"
INSTALL = "apt-get install webkit2gtk-driver xvfb xauth"

# The page does the JSON and the waiting; the last argument is WebDriver's callback.
_EVALUATE_JS = """const done = arguments[arguments.length - 1];
(async () => { let v = await (
EXPR
); if (typeof v === "function") v = await v();
return v === undefined ? null : JSON.stringify(v); })().then(
(v) => done({ value: v }), (e) => done({ error: String(e && e.stack || e) }));"""
_WAIT_JS = """const done = arguments[arguments.length - 1]; const end = performance.now() + TIMEOUT;
const check = () => { let v; try { v = (
EXPR
); if (typeof v === "function") v = v(); } catch (e) { done({ error: String(e) }); return; }
if (v) done({ value: "true" }); else if (performance.now() >= end) done({ value: "false" });
else setTimeout(check, 20); }; check();"""


class JavaScriptError(RuntimeError):
    """JavaScript evaluated in the page threw an exception."""


PAGE_LOAD_S = 300  # WebDriver's default page-load timeout


def _deadline(driver: Any, seconds: float) -> Any:
    """The driver, its next commands given ``seconds`` (and a margin) before the client gives up.

    The client's own deadline is what catches a driver that never answers; it must outlast the
    command's (a script that waits for a run to finish), and no more.
    """
    driver.command_executor.client_config.timeout = math.ceil(seconds) + 10
    return driver


class WebKitPage:
    """One tab: a top-level window of the session."""

    def __init__(self, driver: Any, handle: str, home: str) -> None:
        self._driver, self._handle, self._home, self._closed = driver, handle, home, False

    def _here(self) -> Any:
        if self._driver.current_window_handle != self._handle:
            self._driver.switch_to.window(self._handle)
        return self._driver

    def goto(self, url: str) -> None:
        """Open ``url`` and wait until it has loaded."""
        _deadline(self._here(), PAGE_LOAD_S).get(url)

    def _run(self, template: str, expression: str, timeout_s: float) -> Any:
        driver = self._here()
        driver.set_script_timeout(timeout_s)
        reply = _deadline(driver, timeout_s).execute_async_script(
            template.replace("EXPR", expression)
        )
        if "error" in reply:
            raise JavaScriptError(f"{expression}: {reply['error']}")
        return reply["value"]

    def evaluate(self, expression: str) -> Any:
        """The JSON-compatible value of a JavaScript expression in the page (undefined is None)."""
        text = self._run(_EVALUATE_JS, expression, 30)
        return None if text is None else json.loads(text)

    def wait_for_function(self, expression: str, *, timeout: float = 30_000) -> None:
        """Wait until a JavaScript expression is truthy; ``timeout`` in milliseconds."""
        template = _WAIT_JS.replace("TIMEOUT", repr(float(timeout)))
        if self._run(template, expression, timeout / 1000 + 10) != "true":
            raise TimeoutError(f"{expression!r} still not true after {timeout:g} ms")

    def inner_text(self, selector: str, *, timeout: float = 30_000) -> str:
        """The rendered text of the first element matching a CSS selector (waits for one)."""
        return text_of(self, selector, timeout)

    def click(self, selector: str) -> None:
        """Click the first element matching a CSS selector with the mouse, as a user does."""
        from selenium.webdriver.common.by import By  # imported with the driver, on demand

        _deadline(self._here(), 30).find_element(By.CSS_SELECTOR, selector).click()

    def close(self) -> None:
        """Close the tab; the session's first window stays, so the session does too."""
        if not self._closed:
            self._closed = True
            self._here().close()
            self._driver.switch_to.window(self._home)


class WebKitBrowser:
    """A running MiniBrowser with one WebDriver session."""

    def __init__(self, driver: Any) -> None:
        self._driver = driver
        self._home = driver.current_window_handle
        self._version = str(driver.capabilities.get("browserVersion", "unknown"))

    @property
    def version(self) -> str:
        """WebKitGTK's version, e.g. ``2.50.6``."""
        return self._version

    def new_page(self) -> WebKitPage:
        """A fresh tab."""
        self._driver.switch_to.new_window("tab")
        return WebKitPage(self._driver, self._driver.current_window_handle, self._home)


def _require() -> None:
    for path in (EXECUTABLE, MINIBROWSER, XVFB):
        if not os.path.exists(path):
            raise BrowserMissing(f"{path} is not installed: {INSTALL}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process's group, SIGKILL it after 5 s; reap the process."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _xvfb(timeout_s: float) -> tuple[subprocess.Popen[bytes], str]:
    """An Xvfb on a display of its own, ready for clients, and that display's name.

    A display number not used just before: a MiniBrowser once found ``:0`` unopenable right
    after the previous Xvfb there had stopped. Xvfb writes the number to -displayfd when ready.
    """
    numbers = random.Random().sample(range(100, 1000), 20)
    for number in numbers:
        read, write = os.pipe()
        process = subprocess.Popen(
            [XVFB, f":{number}", "-displayfd", str(write), "-screen", "0", "1280x1024x24"]
            + ["-nolisten", "tcp"],
            pass_fds=(write,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(write)
        try:
            ready, _, _ = select.select([read], [], [], timeout_s)
            display = os.read(read, 64).decode().strip() if ready else ""
        finally:
            os.close(read)
        if display.isdigit() and _accepts_clients(display, timeout_s):
            return process, f":{display}"
        _stop_group(process)  # that display was taken, or its server never answered: the next
    raise BrowserMissing(f"{XVFB} did not start a display (tried {len(numbers)})")


def _accepts_clients(display: str, timeout_s: float) -> bool:
    """Whether the X server completes a client's connection set-up before the deadline.

    Announced ready, a fresh Xvfb still reset the first connections now and then, and a
    MiniBrowser started then could not open the display and hung the session.
    """
    setup = struct.pack("<cxHHHHxx", b"l", 11, 0, 0, 0)  # little-endian, X11.0, no auth
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as client:
            client.settimeout(max(0.1, deadline - time.monotonic()))
            client.connect(f"/tmp/.X11-unix/X{display}")
            client.sendall(setup)
            if client.recv(1) == b"\x01":  # success
                return True
        time.sleep(0.02)  # polling a server that is still starting
    return False


ATTEMPTS = 3  # a MiniBrowser that cannot open its display hangs the session: start afresh


@contextlib.contextmanager
def launch(
    *, accept_insecure_certs: bool = True, timeout_s: float = 20, quic: Sequence[QuicOrigin] = ()
) -> Iterator[WebKitBrowser]:
    """Start Xvfb, WebKitWebDriver and a MiniBrowser session; stop all three on exit.

    ``quic`` is ignored: WebKitGTK's network library (libsoup 3) has no HTTP/3.

    A session that does not start within ``timeout_s`` is started again, afresh, up to
    ``ATTEMPTS`` times: now and then a MiniBrowser could not open a display its Xvfb had just
    opened, and the session hung (seen on cold starts here).
    """
    _require()
    for attempt in range(1, ATTEMPTS + 1):
        with contextlib.ExitStack() as stack:
            try:
                driver = _start(stack, accept_insecure_certs, timeout_s)
            except SessionNotStarted as exc:
                if attempt == ATTEMPTS:
                    raise BrowserMissing(f"{exc} ({ATTEMPTS} attempts)") from exc
                continue
            yield WebKitBrowser(driver)
            return


class SessionNotStarted(BrowserMissing):
    """WebKitWebDriver did not start a session in time; the message has its log."""


def _start(stack: contextlib.ExitStack, accept_insecure_certs: bool, timeout_s: float) -> Any:
    """Xvfb, the driver and a session, each stopped by ``stack``; the Selenium driver."""
    import urllib3
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.remote.client_config import ClientConfig

    xvfb, display = _xvfb(timeout_s)
    stack.callback(_stop_group, xvfb)
    port = _free_port()
    env = {**os.environ, "DISPLAY": display, "GDK_BACKEND": "x11"}
    # Into a file, for the error messages: with its output on /dev/null, the session never
    # started (MiniBrowser inherits it).
    log = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 (the stack closes it)
    driver_process = subprocess.Popen(
        [EXECUTABLE, f"--port={port}"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack.callback(_stop_group, driver_process)
    options = webdriver.WebKitGTKOptions()
    options.binary_location = MINIBROWSER
    options.add_argument("--automation")  # given arguments replace the defaults
    options.accept_insecure_certs = accept_insecure_certs
    url = f"http://127.0.0.1:{port}"
    config = ClientConfig(remote_server_addr=url, timeout=int(timeout_s))
    try:
        driver = _connect(webdriver, url, options, config, timeout_s)
    except (WebDriverException, OSError, urllib3.exceptions.HTTPError) as exc:
        log.seek(0)
        tail = log.read().decode(errors="replace")[-2000:].strip()
        raise SessionNotStarted(f"{EXECUTABLE} did not start a session ({exc}): {tail}") from exc
    stack.callback(_quit, driver)
    return driver


def _connect(webdriver: Any, url: str, options: Any, config: Any, timeout_s: float) -> Any:
    """A session, once the driver listens; BrowserMissing if it never does."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise BrowserMissing(f"{EXECUTABLE} did not listen in {timeout_s:g} s") from None
            time.sleep(0.05)
    return webdriver.Remote(command_executor=url, options=options, client_config=config)


def _quit(driver: Any) -> None:
    # Deleting the session closes MiniBrowser; the driver's group is stopped next regardless.
    with contextlib.suppress(Exception):
        driver.quit()
