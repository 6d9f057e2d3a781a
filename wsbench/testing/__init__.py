"""Drive the real thing from outside: the server as a child process, the page in real browsers.

Shared by the tests and the benchmark scripts; not used by the server itself.
"""
