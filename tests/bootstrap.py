"""Loaded with ``-p tests.bootstrap`` before Django is configured: give each test process
(each xdist worker too) its own throwaway data directory."""

import os
import tempfile

os.environ["NORTHSTAR_DATA_DIR"] = tempfile.mkdtemp(prefix="northstar-test-")
# Tests that need the real worker process get it through the live server fixture.
os.environ.setdefault("NORTHSTAR_TASKS_IMMEDIATE", "1")
