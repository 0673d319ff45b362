# ParamScope: the two commands a new machine needs are `make run` and `make test`.
# Everything goes into .venv in the repository root; a second run does nothing unless
# pyproject.toml changed (the stamp file below records the last install).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.paramscope-installed
# The Lightning checkpoint last, so its tab (model, optimizer state, hyperparameters) is in front.
DEMO := resources/demo/tiny-gpt resources/demo/tiny-gpt.ckpt
DIST := dist/ParamScope

.PHONY: venv run test lint format demo icons bundle bundle-test deb clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: venv
	$(PY) main.py $(DEMO)

test: venv
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: venv
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

demo: venv
	$(PY) resources/demo/make_demo.py

icons: venv
	$(PY) packaging/make_icons.py

# One-folder desktop bundle in dist/ParamScope (the spec prints its size). Built again only when
# something it is made from changed: the stamp is newer than every source file.
BUNDLE_STAMP := build/bundle.stamp
BUNDLE_SOURCES := $(shell find core gui resources packaging/macos -type f \
	-not -name '*.pyc' -not -path '*/__pycache__/*') \
	$(wildcard packaging/*.py) packaging/paramscope.spec main.py pyproject.toml LICENSE
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' core/__init__.py)
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB := dist/paramscope_$(VERSION)-1_$(DEB_ARCH).deb

bundle: $(BUNDLE_STAMP)

$(BUNDLE_STAMP): $(BUNDLE_SOURCES) $(STAMP)
	$(PY) -m PyInstaller --noconfirm --clean --log-level WARN \
		--distpath dist --workpath build/pyinstaller packaging/paramscope.spec
	@touch $@

bundle-test: $(BUNDLE_STAMP)
	QT_QPA_PLATFORM=offscreen $(DIST)/ParamScope --version
	QT_QPA_PLATFORM=offscreen $(DIST)/ParamScope --self-test

deb: $(DEB)

$(DEB): $(BUNDLE_STAMP) $(wildcard packaging/linux/*) $(wildcard resources/icons/*)
	packaging/linux/build_deb.sh $(DIST) dist

clean:
	rm -rf build dist *.egg-info
