# Everything a fresh machine with nothing but python3 needs: each target makes its own
# virtual environment and installs what it needs.
PYTHON ?= python3
PY313 := $(firstword $(wildcard /root/.pyenv/versions/3.13.0/bin/python3) $(shell command -v python3.13 2>/dev/null))
VENV := .venv
VENV313 := .venv313
# Python 3.14 is fetched (Debian's unstable packages, unpacked: nothing installed system-wide)
# into PY314DIR, with the test dependencies as 3.14 wheels in PY314DIR/site
PY314DIR := .py314
GET_PY314 := $(firstword $(wildcard ../shared/tools/get-python3.14) tools/get-python3.14)
PY314 := $(PY314DIR)/root/usr/bin/python3.14
PY314_WHEELS := cloudpickle psutil rich pytest pytest-timeout hypothesis
PIP_FLAGS := -q --disable-pip-version-check

.PHONY: demo test lint typecheck pytest pytest313 py314 pytest314 bench stress browser clean dropin

$(VENV)/.stamp-base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -e .
	touch $@

$(VENV)/.stamp-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -e '.[test]'
	touch $@ $(VENV)/.stamp-base

$(VENV)/.stamp-bench: pyproject.toml $(VENV)/.stamp-test
	$(VENV)/bin/pip install $(PIP_FLAGS) -e '.[test,bench]'
	touch $@

demo: $(VENV)/.stamp-base
	$(VENV)/bin/poolwise demo

lint: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(VENV)/.stamp-test
	$(VENV)/bin/mypy

pytest: $(VENV)/.stamp-test browser
	$(VENV)/bin/python -m pytest -q

pytest313:
ifneq ($(PY313),)
	test -x $(VENV313)/bin/python || $(PY313) -m venv $(VENV313)
	$(VENV313)/bin/pip install $(PIP_FLAGS) -e '.[test]'
	$(VENV313)/bin/python -m pytest -q
else
	@echo "Python 3.13 not found: skipping the 3.13 run"
endif

# Python 3.14 in PY314DIR (subinterpreters, the new defaults), with the test dependencies as 3.14
# wheels in PY314DIR/site and everything compiled to bytecode (the unpacked packages ship none,
# and each fresh interpreter would compile the standard library again). Never fails: when 3.14
# or its wheels cannot be had, one line says so and the targets that use it skip.
py314: $(VENV)/.stamp-base
	@PY=$$($(GET_PY314) $(PY314DIR) 2>$(PY314DIR).log | tail -1); \
	if [ ! -x "$$PY" ]; then \
	  echo "Python 3.14 could not be fetched ($$(tail -1 $(PY314DIR).log 2>/dev/null)): the 3.14 runs are skipped"; \
	elif [ ! -f $(PY314DIR)/site/.stamp ]; then \
	  if $(VENV)/bin/pip install $(PIP_FLAGS) --target $(PY314DIR)/site --python-version 3.14 \
	      --only-binary=:all: --implementation cp $(PY314_WHEELS) >>$(PY314DIR).log 2>&1; then \
	    $$PY -m compileall -q -j 2 $(PY314DIR)/root/usr/lib/python3.14 $(PY314DIR)/site >/dev/null 2>&1; \
	    touch $(PY314DIR)/site/.stamp; \
	  else echo "the test dependencies could not be installed for Python 3.14 (see $(PY314DIR).log): the 3.14 runs are skipped"; fi; \
	fi

# The suite on 3.14. The package's metadata (its pytest11 entry point) comes from the editable
# install's src/poolwise.egg-info, so the paths are absolute: the plugin's test runs pytest in
# another directory.
pytest314: $(VENV)/.stamp-test py314
	@if [ -x $(PY314) ] && [ -f $(PY314DIR)/site/.stamp ]; then \
	  PYTHONPATH=$(CURDIR)/$(PY314DIR)/site:$(CURDIR)/src $(PY314) -m pytest -q; fi

test: lint typecheck pytest pytest313 pytest314

# Headless Chromium for the HTML-report tests; those tests skip with a message when it is absent.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1) || \
	  echo "chromium not installed: browser tests will be skipped"; }

bench: $(VENV)/.stamp-bench py314
	$(VENV)/bin/python -m bench

# CPython's own test_concurrent_futures against the drop-in classes, a table per module. It
# ships with 3.13 (pyenv's 3.11 has no `test` package), so it runs in the 3.13 environment; and
# on 3.14 (make py314), whose test package is Debian's libpython3.14-testsuite, unpacked here.
dropin: $(VENV)/.stamp-bench py314
ifneq ($(PY313),)
	test -x $(VENV313)/bin/python || $(PY313) -m venv $(VENV313)
	$(VENV313)/bin/pip install $(PIP_FLAGS) -e '.[test]'
endif
	@if [ -d $(PY314DIR)/apt ] && [ ! -d $(PY314DIR)/root/usr/lib/python3.14/test/test_concurrent_futures ]; then \
	  A=$(CURDIR)/$(PY314DIR)/apt; cd $(PY314DIR)/debs && apt-get -o "Dir::Etc::sourcelist=$$A/sources.list" \
	    -o Dir::Etc::sourceparts=/dev/null -o "Dir::State::Lists=$$A/lists" -o "Dir::Cache=$$A/cache" \
	    -o Debug::NoLocking=1 download libpython3.14-testsuite >/dev/null 2>&1 \
	  && dpkg-deb -x libpython3.14-testsuite_*.deb ../root \
	  || echo "Python 3.14's test suite could not be fetched: the drop-in run is without it"; fi
	$(VENV)/bin/python -m bench dropin

stress: $(VENV)/.stamp-test
	$(VENV)/bin/python -m bench.stress

clean:
	rm -rf $(VENV) $(VENV313) $(PY314DIR) build src/*.egg-info
