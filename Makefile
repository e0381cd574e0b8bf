# Two commands matter: `make demo` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# gcc, libc6-dev, python3-dev: `make native` compiles the ingest's hot path (ingest/compiled.py).
APT_PACKAGES := mosquitto mosquitto-clients influxdb tesseract-ocr postgresql chromium chromium-driver \
	fonts-dejavu-core fonts-liberation fonts-wqy-microhei openssl gcc libc6-dev python3-dev
PYTEST_ARGS ?=

.PHONY: help demo test bench system-deps venv web mp-deps firmware flash ocr-model lint clean native

help:
	@echo "make demo    - broker, ingest, API and simulated meters; prints URL and token"
	@echo "make test    - install what the tests need (apt + venv), run make lint, then the tests"
	@echo "make lint    - ruff, import contracts (lint-imports), mypy"
	@echo "make web     - vendor the apps' front-end libraries from npm (run by venv, test, demo)"
	@echo "make bench   - benchmarks at full size (ratios against raw baselines)"
	@echo "make native  - compile the ingest's hot path with mypyc (run by venv; falls back to Python)"
	@echo "make firmware / make flash PORT=/dev/ttyUSB0 - build and flash the ESP32 firmware"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip 'setuptools>=77'  # the native build reads pyproject's SPDX licence
	$(PY) -m pip install --quiet -e '.[ocr,fuse,db,firmware,test]'
	# The OCR text detector's model ships inside this wheel; --no-deps: it would pull opencv-python.
	$(PY) -m pip install --quiet --no-deps 'rapidocr-onnxruntime==1.4.4'
	touch $@

venv: $(VENV)/.installed $(VENV)/.mpdeps $(VENV)/.native $(VENV)/.ocrfused web

# The PP-OCRv4 detector and recogniser rewritten into equivalent, faster graphs (ocr_reader/onnx_fuse.py);
# the reader runs the originals when these are missing or stale.
$(VENV)/.ocrfused: $(VENV)/.installed ocr_reader/onnx_fuse.py ocr_reader/onnx_session.py
	$(PY) -m ocr_reader.onnx_fuse
	touch $@

# The ingest's hot path (ingest/compiled.py) compiled in place by mypyc; rebuilt when a source of the
# packages it lives in changes. Without a C compiler the sources run as they are (devservices/native.py).
$(VENV)/.native: $(VENV)/.installed $(wildcard core/*.py ingest/*.py storage/readings/*.py) devservices/native.py
	$(PY) -m devservices.native
	touch $@

native: $(VENV)/.native

# MicroPython packages for the firmware build (the ULP assembler), fetched from PyPI at install time.
$(VENV)/.mpdeps: $(VENV)/.installed devservices/mp_deps.py
	$(PY) -m devservices.mp_deps
	touch $@

mp-deps: $(VENV)/.mpdeps

# The apps' front-end libraries (Preact, htm, ECharts; axe-core for the browser tests) come from the npm
# registry at build time (web/package-lock.json pins them) and are copied into dashboard_api/static/vendor
# (not committed); the browser fetches nothing from outside. Node and npm come from apt when missing.
WEB_BUILT := dashboard_api/static/vendor/.built
$(WEB_BUILT): web/package.json web/package-lock.json web/build.mjs
	@command -v npm >/dev/null 2>&1 || $(MAKE) system-deps APT_PACKAGES="nodejs npm"
	cd web && npm ci --no-audit --no-fund --loglevel=error
	node web/build.mjs

web: $(WEB_BUILT)

# System packages the tests start themselves (no services are left running).
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

test: system-deps venv lint
	$(PY) -m pytest $(PYTEST_ARGS)

demo: venv
	$(PY) -m devservices.demo

bench: system-deps venv
	$(PY) -m bench

# Both modes, production builds: build/firmware/mains and build/firmware/battery (docs/firmware.md).
firmware: venv
	rm -rf build/firmware
	$(PY) -m devservices.build_firmware --out build/firmware

MODE ?= mains
flash: firmware
	@test -n "$(PORT)" || (echo "usage: make flash PORT=/dev/ttyUSB0 [MODE=battery]" && exit 2)
	@echo "a board that still holds .py sources runs those before .mpy: clear it once with"
	@echo "  $(VENV)/bin/mpremote connect $(PORT) fs rm -r :"
	$(VENV)/bin/mpremote connect $(PORT) fs cp -r build/firmware/$(MODE)/. :
	@echo "then the files devservices.provision wrote for this meter (site_config.json, ca.crt, ota_key.hex):"
	@echo "  $(VENV)/bin/mpremote connect $(PORT) fs cp provisioned/METER_ID/* :"

# The wheel CNN ships in ocr_reader/models/wheels_cnn.npz (+ .onnx). This fine-tunes the render-trained
# stage (wheels_cnn_renders.npz, rebuilt from synthetic photos by `python -m ocr_reader.train --real`)
# on the real wheel crops in ../shared/data (WM_OCR_DATA_DIR) of the training makers, with fixed seeds
# (jax and onnx, the `train` extra, are installed only here; docs/ocr.md: sources, licences, time).
ocr-model: venv
	$(MAKE) system-deps APT_PACKAGES="$$($(PY) -c 'from ocr_reader.synth import TRAIN_FONT_PACKAGES as p; print(*p)')"
	$(PY) -m pip install --quiet -e '.[train]'
	$(PY) -m ocr_reader.train --init ocr_reader/models/wheels_cnn_renders.npz

# ruff; the import contracts of pyproject.toml (layers, independence, no cycles: docs/architecture.md);
# mypy on the product packages.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

clean:
	-$(PY) -m devservices.native --clean
	rm -rf build .pytest_cache web/node_modules dashboard_api/static/vendor $(VENV)/.native $(VENV)/.ocrfused ocr_reader/models/fused
