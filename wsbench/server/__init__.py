"""The server: every transport into one writer, started, drained and stopped in order."""
