# Two commands: `make demo` runs the product, `make test` runs the suite. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test venv clean

venv: $(STAMP)

# The spark extra too: `make test` also builds the warehouse on a local Spark and compares it with
# PostgreSQL (tests/spark; skipped, saying why, where Java 17+ is missing).

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,spark]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/shop demo

# Two workers: a test spends much of its time waiting on PostgreSQL, dbt, a server or a browser, so
# one process leaves a core idle. Each worker has its own embedded server and SHOP_HOME; a module,
# or a package that shares shops, runs whole on one worker, so its fixtures are built once
# (tests/conftest.py).
# `make test PYTEST_WORKERS=` runs the suite in one process.
PYTEST_WORKERS ?= -n 2 --dist loadgroup --durations=15

# The project's own modules compiled first: with PYTHONDONTWRITEBYTECODE set (CI images often set it)
# no process writes a .pyc, and each of the suite's hundreds of `shop` processes would compile them again.
test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m compileall -q -x '/\.' .
	$(BIN)/python -m pytest $(PYTEST_WORKERS)

clean:
	rm -rf $(VENV) .pytest_cache
