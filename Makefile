# `make run` and `make test` set everything up on a fresh Debian machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends

.PHONY: run test lint typecheck cycles unit bench system services vendor clean

run: system $(STAMP) vendor
	$(BIN)/mediasrv run

# The tiers one after another (tests/tiers.py): unit on every core, then e2e, then web; each tier's
# time and slowest tests, the total against the 30-minute budget; every tier runs even after a failure.
test: system services $(STAMP) vendor lint typecheck
	$(BIN)/python -m tests.tiers

# The unit tier alone (the in-process tests, on every core). Its few PostgreSQL and Redis tests skip
# loudly where `make services` never ran.
unit: system $(STAMP) vendor
	$(BIN)/python -m tests.tiers --tier unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports  # the layering contracts in pyproject.toml

typecheck: $(STAMP)
	$(BIN)/mypy mediasrv workers

# Import cycles among the modules of mediasrv and workers, with the imports that close them
# (tests/test_import_cycles.py fails on the same list).
cycles: $(STAMP)
	$(BIN)/python -m tests.import_cycles

bench: system services $(STAMP)
	@if ! command -v wrk >/dev/null || ! { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null; then \
		echo "installing wrk and nginx-light with apt-get"; $(SUDO) apt-get update -qq && $(APT) wrk nginx-light; fi
	$(BIN)/python bench/transcode.py
	$(BIN)/python bench/sites.py
	$(BIN)/python bench/agent.py
	$(BIN)/python bench/compliance.py

# System packages: ffmpeg/ffprobe, curl (a site's HTTP client in the tests), the Chinese fonts the
# worker burns captions with (media.plan.FONTS_DIR), and venv support when Debian's python lacks it.
system:
	@if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null || ! command -v curl >/dev/null \
		|| ! test -d /usr/share/fonts/opentype/noto; then \
		echo "installing ffmpeg, curl and CJK fonts with apt-get"; \
		$(SUDO) apt-get update -qq && $(APT) ffmpeg curl fonts-noto-cjk; fi
	@if ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then \
		echo "installing python3-venv with apt-get"; $(SUDO) apt-get update -qq && $(APT) python3-venv python3-dev; fi

# The web pages' third-party scripts (hls.js), from the npm registry, pinned and verified by
# mediasrv/protocol/vendor.json; no Node.js needed. Does nothing when they are in place.
vendor: $(STAMP)
	$(BIN)/python -m mediasrv.web.vendor

# Servers the integration tier starts itself (tests/servers.py, tests/conftest.py): PostgreSQL, Redis
# and nginx; chromium and Chinese fonts for the browser tests and their screenshots (tests/web); VLC
# (vlc-bin: cvlc and vlc-wrapper; vlc-plugin-base: its HLS, M3U and decoders) as the real player of
# channel lists (tests/vlc.py); GStreamer (gst-launch-1.0 with base/good/bad plugins and libav) as the
# second real player of the site's live channel (tests/e2e/test_channel_e2e.py). Only `test` needs
# them: `run` uses none. Installing postgresql may start Debian's own cluster on 5432; the fixtures
# use their own ports and directories.
services:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| ! { command -v redis-server || test -x /usr/bin/redis-server; } >/dev/null \
		|| ! { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null \
		|| ! command -v chromium >/dev/null || ! test -d /usr/share/fonts/opentype/noto \
		|| ! command -v vlc-wrapper >/dev/null || ! dpkg -s vlc-plugin-base >/dev/null 2>&1 \
		|| ! command -v gst-launch-1.0 >/dev/null || ! dpkg -s gstreamer1.0-plugins-bad gstreamer1.0-libav >/dev/null 2>&1; then \
		echo "installing postgresql, redis-server, nginx-light, chromium, CJK fonts, VLC and GStreamer with apt-get"; \
		$(SUDO) apt-get update -qq && $(APT) postgresql redis-server nginx-light chromium fonts-noto-cjk \
			vlc-bin vlc-plugin-base gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
			gstreamer1.0-plugins-bad gstreamer1.0-libav; fi

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
