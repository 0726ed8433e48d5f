# Set-up and entry points. Every target first makes sure .venv matches requirements.txt/setup.py.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo demo-mask demo-seg test test-all clean-venv

venv: $(STAMP)

# mmcv comes from a wheel cache keyed by (mmcv, torch, Python) outside the clone: see
# tools/misc/install_mmcv.py (LSNET_DENSE_WHEEL_CACHE moves it).
$(STAMP): requirements.txt setup.py tools/misc/install_mmcv.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install $$(grep -E '^(setuptools|wheel|ninja|torch|torchvision|numpy)\b' requirements.txt)
	$(PY) tools/misc/install_mmcv.py
	$(PY) -m pip install --no-build-isolation -r requirements.txt
	$(PY) -m pip install --no-build-isolation --no-deps -e .
	$(PY) tools/misc/install_mmcv.py --check
	@touch $@

demo: $(STAMP)
	$(PY) tools/demo.py

demo-mask: $(STAMP)
	$(PY) tools/demo.py --model mask_rcnn

demo-seg: $(STAMP)
	$(PY) tools/demo_seg.py

# `make test` leaves out the few tests marked slow (each covered in part by faster ones). Test
# files run in parallel, one pytest-xdist worker per CPU core (TEST_WORKERS=0: one process); each
# file stays in one worker, so its module fixtures are built once.
TEST_WORKERS ?= auto
PYTEST := $(PY) -m pytest tests -n $(TEST_WORKERS) --dist loadfile

test: $(STAMP)
	$(PYTEST) -m "not slow"

test-all: $(STAMP)
	$(PYTEST)

clean-venv:
	rm -rf $(VENV)
