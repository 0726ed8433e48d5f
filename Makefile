# Set-up and entry points. Every target first makes sure .venv matches requirements.txt/setup.py.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# mmcv compiles its C++ ops with ninja from the venv; MAX_JOBS keeps the 2-core machine usable.
BUILD_ENV := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" MMCV_WITH_OPS=1 MAX_JOBS=$$(nproc)

.PHONY: venv demo demo-seg test clean-venv

venv: $(STAMP)

$(STAMP): requirements.txt setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install $$(grep -E '^(setuptools|wheel|ninja|torch)\b' requirements.txt)
	$(BUILD_ENV) $(PY) -m pip install --no-build-isolation -r requirements.txt
	$(PY) -m pip install --no-build-isolation --no-deps -e .
	@touch $@

demo: $(STAMP)
	$(PY) tools/demo.py

demo-seg: $(STAMP)
	$(PY) tools/demo_seg.py

test: $(STAMP)
	$(PY) -m pytest tests

clean-venv:
	rm -rf $(VENV)
