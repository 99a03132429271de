# The two commands: `make book` and `make test`. Both build .venv first if it is missing or stale.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# torch's CPU build (about 200 MB, against gigabytes for the CUDA build; the book needs no GPU),
# at constraints.txt's version. pip looks for it first where pip is configured to look (PyPI,
# and a machine's own wheels: CI machines ship it and may reach no other index), and only if it
# is not there in TORCH_INDEX. The later install keeps it: torch==X matches X+cpu.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_CPU := torch==$(shell sed -n 's/^torch==//p' constraints.txt)+cpu

.PHONY: book book-student test vendor lab bench lock clean

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt "$(TORCH_CPU)" 2>/dev/null \
	  || $(BIN)/python -m pip install --quiet -c constraints.txt --extra-index-url $(TORCH_INDEX) "$(TORCH_CPU)"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[book,test]"
	touch $@

## book: execute every chapter and build the website into _build/html (a failing cell fails).
## Chapters whose code cells (and srmlib) did not change since the last build reuse their outputs
## from the execution cache in _build/.jupyter_cache (book/_ext/editions.py); `make clean` empties it.
book: $(INSTALLED) vendor
	$(BIN)/jupyter-book build . --warningiserror --keep-going

## book-student: the same website without solutions (every exercise kept), into
## _build/student/_build/html; it reuses the outputs `make book` cached (or fills the cache)
book-student: $(INSTALLED) vendor
	SRMLIB_EDITION=student $(BIN)/jupyter-book build . --path-output _build/student --warningiserror --keep-going

## test: unit tests, the docstrings' examples (doctests), every chapter through nbval
## (quick=True), srmlib's wheel installed into a fresh venv (tests/test_install.py), a fresh
## build of the book, and its pages in headless Chromium with the network blocked
## (tests/test_website.py)
test: $(INSTALLED) vendor
	$(BIN)/python -m pytest

## vendor: the website's MathJax, require.js and ipywidgets manager, fetched with npm at the
## versions and sha512 hashes in tools/vendor.lock.json (does nothing when already there)
vendor:
	$(PYTHON) tools/vendor_assets.py

## lab: open the chapters in JupyterLab; a double-click opens a chapter's .md as a notebook
lab: $(INSTALLED)
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp .jupyter/lab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	$(BIN)/jupyter lab notebooks/

## bench: speed and memory benchmarks, printed as a table
bench: $(INSTALLED)
	$(BIN)/python -m benchmarks

## lock: re-resolve the pinned versions in constraints.txt from pyproject.toml
lock:
	rm -rf /tmp/srmlib-lock && $(PYTHON) -m venv /tmp/srmlib-lock
	/tmp/srmlib-lock/bin/python -m pip install --quiet --extra-index-url $(TORCH_INDEX) torch
	/tmp/srmlib-lock/bin/python -m pip install --quiet ".[book,test]"
	echo '# Pinned versions for the book and tests (regenerate with `make lock`); pyproject.toml declares ranges.' > constraints.txt
	echo "# torch is the CPU build, from the index in the Makefile's TORCH_INDEX." >> constraints.txt
	/tmp/srmlib-lock/bin/python -m pip freeze --exclude srmlib | sed -E 's/^(torch==[^+]*)\+.*/\1/' >> constraints.txt

clean:
	rm -rf _build .pytest_cache book/_static/vendor
